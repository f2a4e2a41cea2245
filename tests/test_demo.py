from bert.checkpoint import is_model_dir
from bert.demo import main


def test_demo_runs_every_stage_that_exists(tmp_path, capsys):
    assert main(["--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[CLS] ana ##rch ##ism is a political philosophy . [SEP]" in out
    assert is_model_dir(tmp_path / "imported")
    assert (tmp_path / "exported-hf" / "model.safetensors").is_file()
