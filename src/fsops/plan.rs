//! Plans: lists of operations that only the methods below can build, each checked against
//! the disk as it is while planning (which changes nothing).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::guard::{Fingerprint, Kind, Refusal, Root};

/// A path beneath a root and what the planner saw there (`None`: nothing may be there).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Target {
    pub root: Root,
    pub rel: PathBuf,
    pub seen: Option<Fingerprint>,
}

impl Target {
    pub fn path(&self) -> PathBuf {
        self.root.path().join(&self.rel)
    }

    fn at(root: &Root, p: &Path) -> Result<(PathBuf, Option<Fingerprint>), Refusal> {
        let rel = root.beneath(p).ok_or_else(|| Refusal::OutsideRoot {
            path: p.to_path_buf(),
            root: root.path().to_path_buf(),
        })?;
        let seen = match rustix::fs::lstat(p) {
            Ok(st) => Some(Fingerprint::from_stat(&st, p)?),
            Err(_) => None,
        };
        if let Some(fp) = &seen
            && fp.dev != root.dev()
        {
            return Err(Refusal::OtherFilesystem {
                path: p.to_path_buf(),
            });
        }
        Ok((rel, seen))
    }

    /// Something that is there now.
    fn existing(root: &Root, p: &Path) -> Result<Target, Refusal> {
        let (rel, seen) = Target::at(root, p)?;
        if seen.is_none() {
            return Err(Refusal::Changed {
                path: p.to_path_buf(),
                what: "it does not exist".into(),
            });
        }
        Ok(Target {
            root: root.clone(),
            rel,
            seen,
        })
    }

    /// A name the plan will create: nothing may be there.
    fn absent(root: &Root, p: &Path) -> Result<Target, Refusal> {
        let (rel, seen) = Target::at(root, p)?;
        if seen.is_some() {
            return Err(Refusal::Exists {
                path: p.to_path_buf(),
            });
        }
        Ok(Target {
            root: root.clone(),
            rel,
            seen,
        })
    }

    /// A name an earlier operation of the plan fills or frees: only its place is checked now.
    fn later(root: &Root, p: &Path) -> Result<Target, Refusal> {
        let (rel, _) = Target::at(root, p)?;
        Ok(Target {
            root: root.clone(),
            rel,
            seen: None,
        })
    }

    /// A file that may or may not be there (a file the plan rewrites).
    fn any(root: &Root, p: &Path) -> Result<Target, Refusal> {
        let (rel, seen) = Target::at(root, p)?;
        Ok(Target {
            root: root.clone(),
            rel,
            seen,
        })
    }
}

/// How a copy is proven to hold the right bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// The name promises the content: sha256 (64 hex) or a git blob sha1 (40 hex).
    Name(String),
    /// This sha256.
    Sha256(String),
    /// Byte for byte what the source held (hashed while copying).
    Source,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    Hard,
    Reflink,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Action {
    /// A file, or a symlink itself (never its target).
    Remove { target: Target },
    /// A file that no link under `readers` may reach when its turn comes (a blob: a download
    /// may have linked a new snapshot to it since the plan).
    RemoveUnreached { target: Target, readers: Target },
    /// A folder and all it holds: one filesystem, no link followed, no special file, and
    /// nothing in it the plan did not see (`contents`) or that changed since.
    RemoveTree {
        target: Target,
        contents: super::tree::Manifest,
    },
    /// A folder, only if it is empty.
    RemoveEmptyDir { target: Target },
    /// A file or folder to a new name (which must stay free); across filesystems a copy,
    /// synced and verified, is renamed into place before the source goes.
    Move {
        from: Target,
        to: Target,
        verify: Verify,
    },
    /// A new symbolic link.
    Symlink { at: Target, link: PathBuf },
    /// `copy` replaced by a hard link or reflink of `keep`; both are hashed again first.
    Link {
        keep: Target,
        copy: Target,
        kind: LinkKind,
        sha256: String,
    },
    /// A new name `at` for the file an earlier operation put at `keep` (a file moved into a
    /// store, linked back where it was): `keep.seen` is that file as it was before it moved,
    /// so the link is made only to the very file the plan saw.
    HardLink { keep: Target, at: Target },
    /// A proof the rest of its group relies on: the file holds this content.
    Check { target: Target, verify: Verify },
    /// A file's whole new content, written atomically (mode kept).
    Write {
        target: Target,
        #[serde(with = "bytes_as_text")]
        contents: Vec<u8>,
    },
    /// A folder (and its parents beneath the root).
    CreateDir { target: Target },
    /// A folder or file given to a group: group owner, group bits, setgid on folders and,
    /// with `acl`, a default ACL on folders (see `fsops::share`).
    Share { target: Target, gid: u32, acl: bool },
}

mod bytes_as_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Vec::<u8>::deserialize(d)
    }
}

/// One planned operation and the group it belongs to: when an operation of a group does not
/// happen, the later ones of that group are skipped (a cache is not deleted when one of its
/// files was not moved); so are those of a group planned to go only after others that did not
/// all happen (`after`: a config rewritten only once its caches are in place).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Step {
    pub group: u32,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<u32>,
}

/// What one operation does, for dry runs and reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpView {
    pub op: &'static str,
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<PathBuf>,
}

impl Action {
    pub fn view(&self) -> OpView {
        let (op, path, to) = match self {
            Action::Remove { target } | Action::RemoveUnreached { target, .. } => {
                ("remove", target.path(), None)
            }
            Action::RemoveTree { target, .. } => ("remove_tree", target.path(), None),
            Action::RemoveEmptyDir { target } => ("remove_empty_dir", target.path(), None),
            Action::Move { from, to, .. } => ("move", from.path(), Some(to.path())),
            Action::Symlink { at, link } => ("symlink", at.path(), Some(link.clone())),
            Action::Link {
                keep, copy, kind, ..
            } => (
                match kind {
                    LinkKind::Hard => "hard_link",
                    LinkKind::Reflink => "reflink",
                },
                copy.path(),
                Some(keep.path()),
            ),
            Action::HardLink { keep, at } => ("hard_link", at.path(), Some(keep.path())),
            Action::Check { target, .. } => ("check", target.path(), None),
            Action::Write { target, .. } => ("write", target.path(), None),
            Action::CreateDir { target } => ("create_dir", target.path(), None),
            Action::Share { target, .. } => ("share", target.path(), None),
        };
        OpView { op, path, to }
    }
}

/// An ordered list of operations. Building one reads the disk and changes nothing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    current: u32,
    groups: u32,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    /// Starts a new group and returns its id: the operations planned next are skipped when
    /// an earlier one of the same group does not happen.
    pub fn group(&mut self) -> u32 {
        self.current = self.groups;
        self.groups += 1;
        self.current
    }

    /// Adds all of `item`'s operations as one new group and returns its id. A planner builds
    /// each item on a plan of its own and keeps it only if every operation could be planned.
    pub fn push_group(&mut self, item: Plan) -> u32 {
        let g = self.group();
        for s in item.steps {
            self.push(s.action);
        }
        g
    }

    /// [`Plan::push_group`] for an item that must not happen unless every operation of the
    /// groups `after` did (it is skipped otherwise).
    pub fn push_group_after(&mut self, item: Plan, after: &[u32]) -> u32 {
        let g = self.push_group(item);
        for s in self.steps.iter_mut().filter(|s| s.group == g) {
            s.after = after.to_vec();
        }
        g
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Drops the operations planned after the first `len` (an item that turned out not to be
    /// movable whole).
    pub fn truncate(&mut self, len: usize) {
        self.steps.truncate(len);
    }

    pub fn views(&self) -> Vec<OpView> {
        self.steps.iter().map(|s| s.action.view()).collect()
    }

    fn push(&mut self, action: Action) {
        self.steps.push(Step {
            group: self.current,
            action,
            after: Vec::new(),
        });
    }

    /// Removes a file, or a symlink itself.
    pub fn remove(&mut self, root: &Root, p: &Path) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        if target.seen.is_some_and(|f| f.kind == Kind::Dir) {
            return Err(Refusal::Changed {
                path: p.to_path_buf(),
                what: "it is a folder".into(),
            });
        }
        self.push(Action::Remove { target });
        Ok(())
    }

    /// Removes a file unless, when its turn comes, a link below the folder `readers` leads to
    /// it (checked by device and inode).
    pub fn remove_unreached(
        &mut self,
        root: &Root,
        p: &Path,
        readers: &Path,
    ) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        if target.seen.is_some_and(|f| f.kind != Kind::File) {
            return Err(Refusal::Changed {
                path: p.to_path_buf(),
                what: "not a regular file".into(),
            });
        }
        let readers = Target::any(root, readers)?;
        self.push(Action::RemoveUnreached { target, readers });
        Ok(())
    }

    /// Removes a folder and everything in it; a symlink is removed as a link.
    pub fn remove_tree(&mut self, root: &Root, p: &Path) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        if target.seen.is_some_and(|f| f.kind != Kind::Dir) {
            self.push(Action::Remove { target });
        } else {
            let contents = super::tree::manifest_of(p)?;
            self.push(Action::RemoveTree { target, contents });
        }
        Ok(())
    }

    /// Removes a folder whose content this plan carries away (a migrated cache): refused
    /// unless every regular file in it with any bytes is accounted for by an earlier step of
    /// this plan (moved out, or checked against a content hash: the planner pairs such a
    /// check with one of the copy elsewhere) or is bookkeeping `exempt` names (by its path
    /// in the folder). A planner that forgets a file cannot delete it.
    pub fn remove_accounted_tree(
        &mut self,
        root: &Root,
        p: &Path,
        exempt: impl Fn(&Path) -> bool,
    ) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        let contents = super::tree::manifest_of(p)?;
        let accounted: std::collections::HashSet<&Path> = self
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::Move { from, .. } if from.root.is(root) => Some(from.rel.as_path()),
                Action::Check {
                    target: t,
                    verify: Verify::Name(_) | Verify::Sha256(_),
                } if t.root.is(root) => Some(t.rel.as_path()),
                _ => None,
            })
            .collect();
        for (rel, fp) in &contents {
            if fp.kind != Kind::File || fp.size == 0 || exempt(rel) {
                continue;
            }
            if !accounted.contains(target.rel.join(rel).as_path()) {
                return Err(Refusal::Unaccounted { path: p.join(rel) });
            }
        }
        self.push(Action::RemoveTree { target, contents });
        Ok(())
    }

    /// Removes a folder if it is empty when its turn comes.
    pub fn remove_empty_dir(&mut self, root: &Root, p: &Path) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        self.push(Action::RemoveEmptyDir { target });
        Ok(())
    }

    /// Moves `from` to the free name `to` (verified when it crosses filesystems).
    pub fn move_to(
        &mut self,
        from_root: &Root,
        from: &Path,
        to_root: &Root,
        to: &Path,
        verify: Verify,
    ) -> Result<(), Refusal> {
        let from = Target::existing(from_root, from)?;
        let to = Target::absent(to_root, to)?;
        self.push(Action::Move { from, to, verify });
        Ok(())
    }

    /// Moves `from` to `to`, a name an earlier operation of this plan frees (a damaged copy
    /// moved aside): `from` is checked as seen now, `to` must be free when the move runs.
    pub fn move_into_freed(
        &mut self,
        from_root: &Root,
        from: &Path,
        to_root: &Root,
        to: &Path,
        verify: Verify,
    ) -> Result<(), Refusal> {
        let from = Target::existing(from_root, from)?;
        let to = Target::later(to_root, to)?;
        self.push(Action::Move { from, to, verify });
        Ok(())
    }

    /// Moves what an earlier operation of this plan puts at `from` to `to`, which an earlier
    /// operation frees. Only their place is checked now; the guard checks the rest.
    pub fn move_later(
        &mut self,
        from_root: &Root,
        from: &Path,
        to_root: &Root,
        to: &Path,
    ) -> Result<(), Refusal> {
        let from = Target::later(from_root, from)?;
        let to = Target::later(to_root, to)?;
        self.push(Action::Move {
            from,
            to,
            verify: Verify::Source,
        });
        Ok(())
    }

    /// Makes `at` a symbolic link holding `link`.
    pub fn symlink(&mut self, root: &Root, at: &Path, link: &Path) -> Result<(), Refusal> {
        let at = Target::absent(root, at)?;
        self.push(Action::Symlink {
            at,
            link: link.to_path_buf(),
        });
        Ok(())
    }

    /// Makes `at`, which an earlier operation of this plan frees, a symbolic link to `link`.
    pub fn symlink_later(&mut self, root: &Root, at: &Path, link: &Path) -> Result<(), Refusal> {
        let at = Target::later(root, at)?;
        self.push(Action::Symlink {
            at,
            link: link.to_path_buf(),
        });
        Ok(())
    }

    /// Replaces `copy` by a link of `keep`, both of which must hash to `sha256` then.
    pub fn link(
        &mut self,
        keep_root: &Root,
        keep: &Path,
        copy_root: &Root,
        copy: &Path,
        kind: LinkKind,
        sha256: &str,
    ) -> Result<(), Refusal> {
        let keep = Target::existing(keep_root, keep)?;
        let copy = Target::existing(copy_root, copy)?;
        for t in [&keep, &copy] {
            if t.seen.is_some_and(|f| f.kind != Kind::File) {
                return Err(Refusal::Changed {
                    path: t.path(),
                    what: "not a regular file".into(),
                });
            }
        }
        if keep.seen.map(|f| f.dev) != copy.seen.map(|f| f.dev) {
            return Err(Refusal::OtherFilesystem { path: copy.path() });
        }
        self.push(Action::Link {
            keep,
            copy,
            kind,
            sha256: sha256.to_owned(),
        });
        Ok(())
    }

    /// After an earlier operation of this plan moved the file `from` to `to` on the same
    /// filesystem, gives it back its old name as a hard link: `from` ends up holding the same
    /// file under both names. Refused unless `from` is a regular file on the filesystem of
    /// both roots.
    pub fn link_back(
        &mut self,
        from_root: &Root,
        from: &Path,
        to_root: &Root,
        to: &Path,
    ) -> Result<(), Refusal> {
        let now = Target::existing(from_root, from)?;
        let seen = now.seen;
        if seen.is_some_and(|f| f.kind != Kind::File) {
            return Err(Refusal::Changed {
                path: from.to_path_buf(),
                what: "not a regular file".into(),
            });
        }
        if seen.map(|f| f.dev) != Some(to_root.dev()) {
            return Err(Refusal::OtherFilesystem {
                path: from.to_path_buf(),
            });
        }
        let keep = Target {
            seen,
            ..Target::later(to_root, to)?
        };
        let at = Target::later(from_root, from)?;
        self.push(Action::HardLink { keep, at });
        Ok(())
    }

    /// A proof the rest of the group needs: `p` holds the content `verify` names.
    pub fn check(&mut self, root: &Root, p: &Path, verify: Verify) -> Result<(), Refusal> {
        let target = Target::existing(root, p)?;
        self.push(Action::Check { target, verify });
        Ok(())
    }

    /// A proof like [`Plan::check`] of a file that may not exist yet while planning (one an
    /// earlier item of the plan moves there): it must be there, holding `verify`'s content,
    /// when its turn comes, or the rest of the group is skipped.
    pub fn check_later(&mut self, root: &Root, p: &Path, verify: Verify) -> Result<(), Refusal> {
        let target = Target::any(root, p)?;
        self.push(Action::Check { target, verify });
        Ok(())
    }

    /// Puts every check before the changes of the plan (keeping each side's order): what a
    /// plan must prove is proven before it changes anything. For plans whose checks are of
    /// files that exist before the plan runs, or that earlier items bring.
    pub fn checks_first(&mut self) {
        let (checks, rest): (Vec<Step>, Vec<Step>) = std::mem::take(&mut self.steps)
            .into_iter()
            .partition(|s| matches!(s.action, Action::Check { .. }));
        self.steps = checks.into_iter().chain(rest).collect();
    }

    /// Writes `contents` to `p` atomically; if `p` exists it must be unchanged when written.
    pub fn write(&mut self, root: &Root, p: &Path, contents: &[u8]) -> Result<(), Refusal> {
        let target = Target::any(root, p)?;
        self.push(Action::Write {
            target,
            contents: contents.to_vec(),
        });
        Ok(())
    }

    /// Gives `p` (a folder or regular file; one the plan creates earlier counts too) to the
    /// group `gid` so its members can use it whatever their umask; `acl`: also a default ACL
    /// on folders.
    pub fn share(&mut self, root: &Root, p: &Path, gid: u32, acl: bool) -> Result<(), Refusal> {
        let target = Target::any(root, p)?;
        self.push(Action::Share { target, gid, acl });
        Ok(())
    }

    /// Creates the folder `p` (and missing parents beneath the root).
    pub fn create_dir(&mut self, root: &Root, p: &Path) -> Result<(), Refusal> {
        let target = Target::any(root, p)?;
        self.push(Action::CreateDir { target });
        Ok(())
    }
}
