"""The VAE engine in pure PyTorch (no Streamlit): usable from scripts, the CLI, tests and the app.

- likelihoods.py    the families p(x|z) (incl. per-pixel σ), their registry and parameter ranges
- distributions.py  Huber, an exact continuous Bernoulli, bin probabilities for bits/dim
- vae.py            `VAEConfig`, `VAE` (MLP or linear), save/load as bytes, the pPCA optimum
- data.py           `load_dataset` (digits, binarised digits, MNIST-format IDX files), `read_idx`
- trainer.py        `Trainer`: bounded slices, history, structured events, non-finite and
                    divergence stops (`Stop`)
- evaluate.py       `evaluate` -> `Metrics`: ELBO, MSE, KL per latent, IWAE, bits/dim
- train.py          the command line: `python -m models.train --help`
- batched.py        `BatchedTrainer`: K VAEs trained by one batched step, each its own model
- race.py           the race's presets and report; `python -m models.race --help`
"""
