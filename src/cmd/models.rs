//! `modelenv models ls`: every model in every store, filtered and sorted like `hf cache ls`.

use crate::cmd::Exit;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::cli::LsArgs;
use crate::settings::Settings;
use crate::stores::{Model, Time};
use crate::units::{ago, human_size, parse_duration, parse_size};

use super::{inventory, show};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    fn cmp<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Ge => a >= b,
            Op::Le => a <= b,
        }
    }
}

/// A predicate over a model and the current time (Unix seconds).
type Predicate = Box<dyn Fn(&Model, f64) -> bool + Send + Sync>;

/// A compiled `--filter` expression.
pub struct Filter(Predicate);

impl Filter {
    pub fn matches(&self, m: &Model, now: f64) -> bool {
        (self.0)(m, now)
    }

    /// `size>1GB`, `accessed>30d`, `modified<7d`, `type=model`, `store=ollama`, `id=meta-llama/*`,
    /// `refs=main`.
    pub fn parse(expr: &str) -> Result<Filter> {
        let e = expr.trim();
        let key_len = e
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic() || *b == b'_')
            .count();
        let (key, rest) = e.split_at(key_len);
        let rest = rest.trim_start();
        let (op, value) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ]
        .iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v.trim().to_owned())))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid filter {expr:?}: expected KEY OP VALUE, like size>1GB or accessed>30d"
            )
        })?;
        if value.is_empty() {
            bail!("invalid filter {expr:?}: no value");
        }
        let key = key.to_ascii_lowercase();
        let equality_only = |k: &str| -> Result<()> {
            if matches!(op, Op::Eq | Op::Ne) {
                Ok(())
            } else {
                bail!("filter {expr:?}: `{k}` takes only = or !=")
            }
        };
        Ok(Filter(match key.as_str() {
            "size" => {
                let n = parse_size(&value)?;
                Box::new(move |m, _| op.cmp(m.bytes, n))
            }
            "accessed" | "modified" => {
                let secs = parse_duration(&value)? as f64;
                let accessed = key == "accessed";
                Box::new(move |m, now| {
                    let t: Option<Time> = if accessed {
                        m.last_accessed
                    } else {
                        m.last_modified
                    };
                    t.is_some_and(|t| op.cmp(now - t.0, secs))
                })
            }
            "type" => {
                equality_only("type")?;
                let v = value.to_ascii_lowercase();
                Box::new(move |m, _| (m.kind.to_ascii_lowercase() == v) == (op == Op::Eq))
            }
            "store" => {
                equality_only("store")?;
                let v = value.to_ascii_lowercase();
                Box::new(move |m, _| (m.store.name() == v) == (op == Op::Eq))
            }
            "id" | "name" => {
                equality_only("id")?;
                let glob = globset::GlobBuilder::new(&value)
                    .case_insensitive(true)
                    .literal_separator(false)
                    .build()?
                    .compile_matcher();
                Box::new(move |m, _| glob.is_match(&m.id) == (op == Op::Eq))
            }
            "refs" => {
                equality_only("refs")?;
                let v = value.clone();
                Box::new(move |m, _| {
                    m.refs.iter().any(|r| r.eq_ignore_ascii_case(&v)) == (op == Op::Eq)
                })
            }
            other => bail!(
                "unknown filter key `{other}` in {expr:?}; use size, accessed, modified, type, store, id or refs"
            ),
        }))
    }
}

/// Sorts by `size`, `name`, `accessed` or `modified`, with an optional `:asc`/`:desc`.
pub fn sort(models: &mut [Model], expr: &str) -> Result<()> {
    let (key, order) = match expr.split_once(':') {
        Some((k, o)) => (k, Some(o)),
        None => (expr, None),
    };
    let desc = match (key, order) {
        (_, Some("asc")) => false,
        (_, Some("desc")) => true,
        (_, Some(o)) => bail!("invalid sort order `{o}`: use asc or desc"),
        ("name", None) => false,
        _ => true,
    };
    let t = |x: Option<Time>| x.map_or(f64::MIN, |t| t.0);
    match key {
        "size" => models.sort_by(|a, b| {
            a.bytes
                .cmp(&b.bytes)
                .then_with(|| (b.store, &b.id).cmp(&(a.store, &a.id)))
        }),
        "name" => models.sort_by(|a, b| {
            a.id.to_lowercase()
                .cmp(&b.id.to_lowercase())
                .then(a.store.cmp(&b.store))
        }),
        "accessed" => models.sort_by(|a, b| t(a.last_accessed).total_cmp(&t(b.last_accessed))),
        "modified" => models.sort_by(|a, b| t(a.last_modified).total_cmp(&t(b.last_modified))),
        other => bail!("unknown sort key `{other}`; use size, name, accessed or modified"),
    }
    if desc {
        models.reverse();
    }
    Ok(())
}

#[derive(Serialize)]
struct Listing<'a> {
    models: &'a [Model],
    total_bytes: u64,
    warnings: &'a [String],
}

pub fn ls(settings: &Settings, args: &LsArgs) -> Result<Exit> {
    let filters: Vec<Filter> = args
        .filters
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<_>>()?;
    let inv = inventory::read(
        settings,
        &super::given_dirs(settings, &args.dirs, "list models in")?,
        &args.stores,
    );
    let now = Time::now();
    let mut models: Vec<Model> = inv
        .models
        .into_iter()
        .filter(|m| filters.iter().all(|f| f.matches(m, now)))
        .collect();
    sort(&mut models, &args.sort)?;
    if let Some(n) = args.limit {
        models.truncate(n);
    }
    let total: u64 = models.iter().map(|m| m.bytes).sum();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Listing {
                models: &models,
                total_bytes: total,
                warnings: &inv.warnings
            })?
        );
        return Ok(Exit::Ok);
    }
    if models.is_empty() {
        eprintln!("no models match");
        return Ok(Exit::Ok);
    }
    println!(
        "{:<9} {:<48} {:<8} {:>10}  {:<16} {:<16} {:<12} PATH",
        "STORE", "ID", "TYPE", "SIZE", "ACCESSED", "MODIFIED", "REFS"
    );
    for m in &models {
        let a = m
            .last_accessed
            .map(|t| ago((now - t.0) as i64))
            .unwrap_or_else(|| "-".into());
        let md = m
            .last_modified
            .map(|t| ago((now - t.0) as i64))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<9} {:<48} {:<8} {:>10}  {a:<16} {md:<16} {:<12} {}",
            m.store.name(),
            m.listed_id(),
            m.kind,
            human_size(m.bytes),
            m.refs.join(","),
            show(settings, &m.path)
        );
    }
    println!(
        "\n{} model(s), {} in total",
        models.len(),
        human_size(total)
    );
    Ok(Exit::Ok)
}
