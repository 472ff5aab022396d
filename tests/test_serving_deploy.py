"""The deploy manifests parse and agree with the config files the local server reads."""
import pathlib

import pytest

from serving.batching import load_batching_config
from serving.models import load_model_config

DEPLOY = pathlib.Path(__file__).resolve().parents[1] / "serving" / "deploy"
yaml = pytest.importorskip("yaml")


def test_kubernetes_manifests():
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    assert set(docs) == {"ConfigMap", "Deployment", "Service"}
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("tensorflow/serving")
    assert "readinessProbe" in container
    assert "--enable_batching=true" in container["args"]
    assert docs["ConfigMap"]["data"]["models.config"] == (DEPLOY / "models.config").read_text()
    selector = docs["Service"]["spec"]["selector"]
    assert docs["Deployment"]["spec"]["template"]["metadata"]["labels"] == selector


def test_compose_and_configs_parse():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert compose["services"]["tensorflow-serving"]["image"].startswith("tensorflow/serving")
    pytest.importorskip("tensorflow_serving")
    config = load_model_config(str(DEPLOY / "models.config"))
    assert config.name == "vitrine" and config.base_path == "/models/vitrine"
    assert load_batching_config(str(DEPLOY / "batching.config")).max_batch_size == 32
