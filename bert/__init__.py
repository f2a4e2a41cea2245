"""Small BERTs in MindSpore, pretrained, finetuned and distilled as cluster batch jobs. Layers,
in the order of the pipeline: foundations (config, tokenization, model_dir, device, …) → data/
and glue/ → model, convert → train/ → the stages (pretrain, finetune, distill, predict) →
cluster/ (the launch path). README.md, "Layout", has the map."""
