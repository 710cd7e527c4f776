# >>> modelenv >>>
# Central model storage shared by every project (Hugging Face, transformers, datasets, MLX).
# Written by `modelenv install`; `modelenv uninstall` removes this block.
export HF_HOME={{HF_HOME}}
export TRANSFORMERS_CACHE={{TRANSFORMERS_CACHE}}
export HF_DATASETS_CACHE={{HF_DATASETS_CACHE}}
export CUSTOM_MODEL_DIR={{CUSTOM_MODEL_DIR}}
# <<< modelenv <<<
