"""Stops the pipeline before Transform when TFDV found anomalies, with a report a person can read.

ExampleValidator only records anomalies; nothing downstream waits for a verdict. This gate reads them and
passes the schema through, so Transform (which consumes the gate's schema) cannot start on bad data.
`allow_anomalies=True` lets a run go on deliberately (the anomalies are still printed).
"""
import logging
import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types.standard_artifacts import ExampleAnomalies, Schema

ANOMALIES_FILE = "SchemaDiff.pb"


class DataAnomalyError(RuntimeError):
    """The catalog does not match the curated schema."""


def read_anomalies(anomalies_uri: str, split_names) -> dict:
    """split -> Anomalies proto, for splits that have an anomalies file."""
    found = {}
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE)
        if tf.io.gfile.exists(path):
            proto = anomalies_pb2.Anomalies()
            proto.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
            found[split] = proto
    return found


def describe(anomalies_by_split: dict) -> list:
    """Readable lines: 'split: feature: short description (details)'."""
    lines = []
    for split, proto in sorted(anomalies_by_split.items()):
        for feature, info in sorted(proto.anomaly_info.items()):
            details = "; ".join(r.description for r in info.reason if r.description)
            lines.append(f"[{split}] {feature}: {info.short_description or info.description} ({details})")
        if proto.HasField("dataset_anomaly_info"):
            info = proto.dataset_anomaly_info
            lines.append(f"[{split}] dataset: {info.short_description or info.description}")
    return lines


@component
def AnomalyGate(
    anomalies: InputArtifact[ExampleAnomalies],
    schema: InputArtifact[Schema],
    checked_schema: OutputArtifact[Schema],
    allow_anomalies: Parameter[bool] = False,
):
    splits = artifact_utils.decode_split_names(anomalies.split_names) if anomalies.split_names else ["train", "eval"]
    lines = describe(read_anomalies(anomalies.uri, splits))
    if lines:
        report = "TFDV found anomalies in the catalog:\n  " + "\n  ".join(lines)
        if not allow_anomalies:
            raise DataAnomalyError(
                report + "\nFix the catalog, or update the curated schema deliberately "
                "(vitrine run --accept-new-values), or re-run with --allow-anomalies."
            )
        logging.warning("%s\n(continuing: allow_anomalies=True)", report)
    else:
        logging.info("TFDV: no anomalies in splits %s", splits)
    for name in tf.io.gfile.listdir(schema.uri):
        tf.io.gfile.copy(os.path.join(schema.uri, name), os.path.join(checked_schema.uri, name), overwrite=True)
