"""The sweeper's fast per-job configs (one Hydra composition per choice of config groups) equal Hydra's own."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from hydra_plugins.xlmr_sweeper.xlmr_sweeper import JobConfigs
from xlmr.config import conf_dir, register_configs, without_hydra


def test_fast_job_configs_equal_hydras_composition(tmp_path):
    register_configs()
    jobs = [
        ["model=base", "alpha=0.7", "langs=15"],
        ["model=base", "alpha=0.3", "langs=[en,sw]", "train.max_steps=10", "corpus.p_code_switch=0.1"],
        ["model=large", "seed=3", "trainer=gpu", "eval.transfer.steps=50"],
        ["corpus=cc100", "corpus.path=/data/cc100", "vocab_size=1000"],
        ["train=ablation", "train.lr=0.001", f"paths.runs_dir={tmp_path / 'elsewhere'}", "name=other"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "alpha=1.0"],
    ]
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        master = compose("config", overrides=[f"paths.runs_dir={tmp_path}"], return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        fast = JobConfigs(loader, master)
        for job, (cfg, run_dir) in zip(jobs, fast.of(jobs)):
            ref = loader.load_sweep_config(master, job)
            got = OmegaConf.to_container(without_hydra(cfg), resolve=True)
            assert got == OmegaConf.to_container(without_hydra(ref), resolve=True), job
            assert run_dir == Path(ref.hydra.sweep.dir) / str(ref.hydra.sweep.subdir), job
        assert len(fast._bases) == 5  # the two model=base jobs shared one composition
