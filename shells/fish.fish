# >>> modelenv >>>
# Central model storage shared by every project (Hugging Face, transformers, datasets, MLX).
# Written by `modelenv install`; `modelenv uninstall` removes this file.
set -gx HF_HOME {{HF_HOME}}
set -gx TRANSFORMERS_CACHE {{TRANSFORMERS_CACHE}}
set -gx HF_DATASETS_CACHE {{HF_DATASETS_CACHE}}
set -gx CUSTOM_MODEL_DIR {{CUSTOM_MODEL_DIR}}
# <<< modelenv <<<
