import dataclasses
import json

import numpy as np
import pytest
import torch

from AttriVAELib import (
    InvalidConfigError,
    InvalidDatasetError,
    RunConfig,
    TrainingDivergedError,
    load_cohort,
    load_model,
    preset,
    select_attributes,
    train,
)
from AttriVAELib.apps.samples import run_config, synthetic_data
from AttriVAELib.data.labels import EMIDEC_SCHEME
from AttriVAELib.data.prepared import prepare_data, with_attributes
from AttriVAELib.modelfile.bundle import read_safetensors, write_safetensors
from AttriVAELib.modelfile.provenance import code_fingerprint
from AttriVAELib.training.loop import TrainingInterrupted, learning_rate


def tiny_config(epochs: int, **train_overrides):
    base = preset("paper")
    return dataclasses.replace(base, model=dataclasses.replace(base.model, input_size=32),
                               train=dataclasses.replace(base.train, epochs=epochs, seed=1, **train_overrides))


@pytest.fixture(scope="module")
def cohort(tiny_cohort):
    return load_cohort(tiny_cohort)


@pytest.fixture(scope="module")
def default_names(cohort):
    return select_attributes(cohort)[1]


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory, cohort):
    out = tmp_path_factory.mktemp("run") / "full"
    train(cohort, tiny_config(2), out)
    return out


def test_two_epochs_lower_the_loss_and_write_the_run_folder(two_epoch_run):
    names = {p.name for p in two_epoch_run.iterdir()}
    assert {"config.json", "split.json", "log.csv", "checkpoint.safetensors", "model.safetensors",
            "summary.json"} <= names
    rows = np.genfromtxt(two_epoch_run / "log.csv", delimiter=",", names=True)
    assert len(rows) == 2
    assert rows["train_total"][1] < rows["train_total"][0]
    assert rows["val_total"][1] < rows["val_total"][0]


def test_the_bundle_describes_the_run(two_epoch_run, default_names):
    bundle = load_model(two_epoch_run / "model.safetensors")
    card = bundle.card
    assert bundle.attribute_names == tuple(default_names)
    assert [a.dim for a in card.attributes] == list(range(7)) and all(a.has_line for a in card.attributes)
    assert card.config.preprocess.mode == "physical" and card.config.model.input_size == 32
    assert card.label_scheme == EMIDEC_SCHEME
    assert card.data.subjects == 24 and card.class_names == ("healthy", "MINF")
    split = card.data.split
    assert len(split.train) + len(split.val) + len(split.test) == 24
    assert card.training.best_epoch in (1, 2) and card.config.preset == "paper"
    assert set(card.test.spearman) == set(default_names)
    assert card.config == RunConfig.from_json(two_epoch_run / "config.json")
    assert card.data.synthetic.seed == 7  # tiny_cohort's synthetic.json
    assert card.provenance.code == code_fingerprint()
    assert {"cpu", "torch", "cores"} <= set(card.provenance.machine)


def test_split_is_disjoint_and_test_never_selects_the_model(two_epoch_run):
    split = json.loads((two_epoch_run / "split.json").read_text())
    ids = split["train"] + split["val"] + split["test"]
    assert len(ids) == len(set(ids)) == 24
    summary = json.loads((two_epoch_run / "summary.json").read_text())
    assert summary["split"] == "test" and summary["subjects"] == len(split["test"])


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(tmp_path, two_epoch_run, cohort):
    out = tmp_path / "resumed"
    train(cohort, tiny_config(1), out)
    tensors, meta = read_safetensors(out / "checkpoint.safetensors", "checkpoint")
    for row in meta["state"]["history"]:  # as 0.1.0 wrote it: the classifier's loss term was called "mlp"
        row["train_mlp"], row["val_mlp"] = row.pop("train_classifier"), row.pop("val_classifier")
    write_safetensors(out / "checkpoint.safetensors", tensors, meta)
    train(cohort, tiny_config(2), out, resume=True)
    log = np.genfromtxt(out / "log.csv", delimiter=",", names=True)
    assert np.isfinite(log["train_classifier"]).all() and np.isfinite(log["val_classifier"]).all()
    resumed, _ = read_safetensors(out / "checkpoint.safetensors")
    uninterrupted, _ = read_safetensors(two_epoch_run / "checkpoint.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    for key in resumed:
        assert torch.equal(resumed[key], uninterrupted[key]), key
    assert (out / "log.csv").read_text().count("\n") == 3


@pytest.mark.slow
def test_ctrl_c_leaves_a_resumable_checkpoint(tmp_path, cohort):
    out = tmp_path / "interrupted"

    def interrupt_in_second_epoch(event):
        if event.kind == "batch" and event.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="after 1 finished epoch.*--resume"):
        train(cohort, tiny_config(3), out, progress=interrupt_in_second_epoch)
    _, meta = read_safetensors(out / "checkpoint.safetensors")
    assert meta["state"]["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    train(cohort, tiny_config(2), out, resume=True)
    assert load_model(out / "model.safetensors").card.training.epochs == 2


@pytest.mark.slow
def test_a_used_run_folder_needs_resume(two_epoch_run, cohort):
    with pytest.raises(InvalidConfigError, match="not empty.*--resume"):
        train(cohort, tiny_config(2), two_epoch_run)


@pytest.mark.slow
def test_resume_without_a_checkpoint(tmp_path, cohort):
    with pytest.raises(InvalidConfigError, match="does not exist"):
        train(cohort, tiny_config(2), tmp_path / "new", resume=True)


@pytest.mark.parametrize("change", [{"model": {"latent_size": 32}}, {"train": {"batch_size": 8}},
                                    {"loss": {"gamma": 10.0}}])
@pytest.mark.slow
def test_resume_with_other_settings_is_refused(two_epoch_run, cohort, change):
    config = tiny_config(3)
    for section, values in change.items():
        config = dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **values)})
    with pytest.raises(InvalidConfigError, match="other settings"):
        train(cohort, config, two_epoch_run, resume=True)


@pytest.mark.slow
def test_ctrl_c_in_the_first_epoch_still_resumes(tmp_path, cohort):
    out = tmp_path / "early"

    def interrupt_at_once(event):
        if event.kind == "batch":
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="after 0 finished epoch"):
        train(cohort, tiny_config(2), out, progress=interrupt_at_once)
    train(cohort, tiny_config(1), out, resume=True)
    assert load_model(out / "model.safetensors").card.training.epochs == 1


@pytest.mark.slow
def test_more_attributes_than_latent_dims(tmp_path, cohort):
    config = tiny_config(1)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, latent_size=4))
    with pytest.raises(InvalidConfigError, match="7 attributes need at least as many latent dims"):
        train(cohort, config, tmp_path / "small")
    assert not (tmp_path / "small").exists()


@pytest.mark.slow
def test_training_leaves_the_global_rng_alone(tmp_path, cohort):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(cohort, tiny_config(1), tmp_path / "rng")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.slow
def test_a_diverging_loss_stops_with_a_clear_error(tmp_path, cohort):
    config = tiny_config(1, learning_rate=1e30)
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        train(cohort, config, tmp_path / "diverged")


def test_learning_rate_schedules():
    constant = tiny_config(10, learning_rate=1e-3)
    assert [learning_rate(constant, e) for e in (0, 9)] == [1e-3, 1e-3]
    cosine = tiny_config(10, learning_rate=1e-3, lr_schedule="cosine")
    rates = [learning_rate(cosine, e) for e in range(10)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-5)
    assert all(a > b for a, b in zip(rates, rates[1:]))


@pytest.mark.parametrize("error", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
                 "allocate 17179869184 bytes"),
])
@pytest.mark.slow
def test_out_of_memory_becomes_a_one_line_error(cohort, tmp_path, monkeypatch, error):
    from AttriVAELib.errors import InvalidConfigError
    from AttriVAELib.training import loop

    def out_of_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(loop.Step, "__call__", out_of_memory)
    with pytest.raises(InvalidConfigError, match="out of (CPU|CUDA) memory .* batches of 16 volumes of 32³ "
                                                 "voxels; use a smaller --batch-size or --cube-size"):
        train(cohort, tiny_config(1), tmp_path / "run")


@pytest.mark.slow
def test_bf16_training_is_deterministic_at_32(cohort, tmp_path):
    """At 32³ the bottleneck grid is 2³, where oneDNN's bf16 weight gradient is wrong and varies between runs;
    the bottleneck blocks run in float32, so two bf16 runs must give the same weights."""
    from AttriVAELib.method.acceleration import bf16_supported

    if not bf16_supported(torch.device("cpu")):
        pytest.skip("this CPU has no native bf16")
    config = tiny_config(1, precision="bf16")
    weights = []
    for run in ("a", "b"):
        model_path = train(cohort, config, tmp_path / run)
        tensors, _ = read_safetensors(model_path.parent / "checkpoint.safetensors")
        weights.append({k: v for k, v in tensors.items() if k.startswith("model.")})
    assert weights[0] and all(torch.isfinite(v.float()).all() for v in weights[0].values())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_validation_losses_leave_out_the_weight_penalty(tmp_path):
    from AttriVAELib.training.loop import build_step

    config = run_config(16, preset_name="official-code")  # the preset with an L1 weight penalty
    assert config.loss.l1_weight > 0
    step = build_step(config, torch.device("cpu"))
    data, batch = synthetic_data(config, tmp_path / "cohort")[1], torch.arange(4)
    assert float(step.losses(step.model, batch, data)["l1"]) == 0.0
    assert step.losses(step.model, batch, data, training=True)["l1"].item() > 0.0


@pytest.mark.slow
def test_augmented_training_resumes_exactly(tmp_path, two_epoch_run, cohort):
    augmented = tiny_config(2, augment_probability=1.0)
    train(cohort, augmented, tmp_path / "full")
    train(cohort, tiny_config(1, augment_probability=1.0), tmp_path / "resumed")
    train(cohort, augmented, tmp_path / "resumed", resume=True)
    full, _ = read_safetensors(tmp_path / "full" / "checkpoint.safetensors")
    resumed, _ = read_safetensors(tmp_path / "resumed" / "checkpoint.safetensors")
    plain, _ = read_safetensors(two_epoch_run / "checkpoint.safetensors")
    assert all(torch.equal(full[key], resumed[key]) for key in full)
    assert not torch.equal(full["model.encoder.conv1.0.weight"], plain["model.encoder.conv1.0.weight"])


def test_only_the_training_loss_sees_augmented_inputs(tmp_path):
    from AttriVAELib.training.loop import build_step

    config = run_config(16, augment_probability=1.0)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.0))
    step = build_step(config, torch.device("cpu"))
    step.model.eval()  # z = μ, running BatchNorm statistics: the same input gives the same loss
    data, batch = synthetic_data(config, tmp_path / "cohort")[1], torch.arange(4)
    validation = step.losses(step.model, batch, data)["recon"]
    flipped = dataclasses.replace(data, volumes=data.volumes.flip(-1).flip(-2).rot90(1, dims=(-2, -1)))
    assert torch.equal(step.losses(step.model, batch, data, training=True)["recon"],
                       step.losses(step.model, batch, flipped)["recon"])
    assert not torch.equal(validation, step.losses(step.model, batch, data, training=True)["recon"])


@pytest.mark.slow
def test_the_config_carries_the_attribute_list(tmp_path, cohort):
    chosen = ("myo_volume_ml", "lv_volume_ml")
    config = dataclasses.replace(tiny_config(1), attributes=chosen)
    bundle = load_model(train(cohort, config, tmp_path / "chosen"))
    assert bundle.attribute_names == chosen == bundle.card.config.attributes
    assert RunConfig.from_json(tmp_path / "chosen" / "config.json").attributes == chosen
    other = prepare_data(cohort, dataclasses.replace(config, attributes=("lv_volume_ml",)))
    with pytest.raises(InvalidConfigError, match=r"prepared data hold the attributes \('lv_volume_ml',\)"):
        train(cohort, config, tmp_path / "mismatch", data=other)
    with pytest.raises(InvalidDatasetError, match="unknown attribute 'weight'"):
        train(cohort, dataclasses.replace(config, attributes=("weight",)), tmp_path / "unknown")


def test_attributes_are_resolved_once_into_the_config(cohort, default_names):
    resolved_cohort, config = with_attributes(cohort, tiny_config(1))
    assert config.attributes == default_names and resolved_cohort.subjects == cohort.subjects
    assert with_attributes(cohort, config)[1] == config  # resolved: unchanged
    with pytest.raises(InvalidConfigError, match="names no attributes; resolve them with with_attributes"):
        prepare_data(cohort, tiny_config(1))
