"""Catalog ExampleGen: validated catalog rows → `tf.train.Example`s (see ARCHITECTURE.md, "Raw examples").

A stock ``FileBasedExampleGen`` with a Beam executor. Rows that fail validation (``data.catalog``) are written
with their reason to ``<examples artifact uri>/quarantine.csv`` (next to ``Split-*``), counted in the log, and
recorded as custom properties on the ``examples`` artifact (``catalog_kept``, ``catalog_quarantined``,
``catalog_quarantine_<reason>``, ``catalog_fingerprint``).

Input pattern: its directory is the catalog drop. The default pattern ``*`` (or ``span-{SPAN}/*`` when the
input base holds ``span-<N>/`` drops, the latest span wins) matches every top-level entry of the drop, so
TFX's input fingerprint (size + mtime of the matched files) covers ``styles.csv``, the ``manifest.json`` of
image hashes that ``data.ingest`` writes, and the ``images/`` folder entry (whose mtime changes when images are
added, removed or renamed). An image edited *in place* changes the cache key only once ``vitrine ingest``
rewrites the manifest; a new drop as a new span always does.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import apache_beam as beam
import tensorflow as tf
from google.protobuf import any_pb2, json_format, struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from data import catalog

SPAN_DIR_PREFIX = "span-"
QUARANTINE_FILE = catalog.QUARANTINE_NAME


def catalog_custom_config(condition_attributes: Sequence[str] = catalog.DEFAULT_CONDITION_ATTRIBUTES,
                          min_side: int = catalog.DEFAULT_MIN_SIDE,
                          folder_attribute: str = "articleType",
                          layout: str = "auto") -> example_gen_pb2.CustomConfig:
    """The component's ``custom_config``: a ``google.protobuf.Struct`` packed into ``CustomConfig``."""
    struct = struct_pb2.Struct()
    struct.update({"condition_attributes": list(condition_attributes), "min_side": int(min_side),
                   "folder_attribute": folder_attribute, "layout": layout})
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def parse_custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """Reads back what ``catalog_custom_config`` packed (exec_properties carry it as a JSON string)."""
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    config: Dict[str, Any] = {}
    if raw:
        custom = example_gen_pb2.CustomConfig()
        if isinstance(raw, str):
            proto_utils.json_to_proto(raw, custom)
        else:
            custom.CopyFrom(raw)
        if custom.HasField("custom_config"):
            struct = struct_pb2.Struct()
            if not custom.custom_config.Unpack(struct):
                raise ValueError(f"catalog ExampleGen custom_config must pack a Struct, got "
                                 f"{custom.custom_config.type_url}; build it with catalog_custom_config()")
            config = json_format.MessageToDict(struct)
    return {
        "condition_attributes": tuple(config.get("condition_attributes", catalog.DEFAULT_CONDITION_ATTRIBUTES)),
        "min_side": int(config.get("min_side", catalog.DEFAULT_MIN_SIDE)),
        "folder_attribute": config.get("folder_attribute", "articleType"),
        "layout": config.get("layout", "auto"),
    }


def record_to_example(record: catalog.CatalogRecord) -> tf.train.Example:
    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def _int(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    feature = {name: _bytes(value.encode("utf-8")) for name, value in record.attributes.items()}
    feature.update({"image": _bytes(record.read_bytes()), "id": _bytes(record.id.encode("utf-8")),
                    "width": _int(record.width), "height": _int(record.height)})
    return tf.train.Example(features=tf.train.Features(feature=feature))


class Executor(BaseExampleGenExecutor):
    """Validates the catalog drop once (driver-side, pure Python), emits the kept rows through Beam."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._results: List[catalog.CatalogResult] = []

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        results = self._results

        @beam.ptransform_fn
        @beam.typehints.with_input_types(beam.Pipeline)
        @beam.typehints.with_output_types(tf.train.Example)
        def _CatalogToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                              split_pattern: str) -> beam.pvalue.PCollection:
            config = parse_custom_config(exec_properties)
            input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
            drop = os.path.dirname(os.path.join(input_base, split_pattern)) or input_base
            result = catalog.read_catalog(drop, **config)
            results.append(result)
            return (pipeline
                    | "CatalogRows" >> beam.Create(result.kept, reshuffle=False)
                    | "ToExample" >> beam.Map(record_to_example))

        return _CatalogToExample

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        del self._results[:]
        super().Do(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        quarantined = [q for r in self._results for q in r.quarantined]
        path = catalog.write_quarantine(os.path.join(examples.uri, QUARANTINE_FILE), quarantined)
        for result in self._results:
            logging.info("%s -> %s", result.summary(), path)
            print(f"{result.summary()} -> {path}", flush=True)
            for name, count in result.counts.items():
                examples.set_int_custom_property(
                    f"catalog_{name}" if name in ("rows", "kept", "quarantined") else f"catalog_quarantine_{name}",
                    count)
            examples.set_string_custom_property("catalog_fingerprint", result.fingerprint)
            examples.set_string_custom_property("catalog_dir", result.catalog_dir)


def has_spans(catalog_dir: str) -> bool:
    """True when ``catalog_dir`` holds ``span-<N>/`` drops (local paths only)."""
    try:
        return any(name.startswith(SPAN_DIR_PREFIX) and name[len(SPAN_DIR_PREFIX):].isdigit()
                   and os.path.isdir(os.path.join(catalog_dir, name)) for name in os.listdir(catalog_dir))
    except OSError:
        return False


def make_catalog_example_gen(catalog_dir: str,
                             condition_attributes: Sequence[str] = catalog.DEFAULT_CONDITION_ATTRIBUTES,
                             min_side: int = catalog.DEFAULT_MIN_SIDE,
                             train_buckets: int = 9,
                             eval_buckets: int = 1,
                             splits: Optional[Dict[str, int]] = None,
                             spans: Optional[bool] = None,
                             folder_attribute: str = "articleType",
                             layout: str = "auto") -> FileBasedExampleGen:
    """The catalog ExampleGen; its output channel is ``.outputs["examples"]``.

    Args:
      catalog_dir: a catalog drop (``styles.csv`` + ``images/`` or ``<attr-value>/*.jpg``), or a span root
        holding ``span-<N>/`` drops (the latest span is used).
      condition_attributes: rows with one of these empty/``NA`` are quarantined (``missing_attribute``).
      min_side: images with a side below this are quarantined (``too_small``).
      train_buckets, eval_buckets: hash buckets of the ``train`` and ``eval`` splits (9:1 by default). Rows
        are assigned by hashing ``id``, so a product keeps its split across spans.
      splits: instead of the two above, any ``{split name: hash buckets}``.
      spans: use ``span-{SPAN}/*`` as input pattern; ``None`` = detect (local paths only; say it for gs://).
    """
    splits = splits or {"train": train_buckets, "eval": eval_buckets}
    if spans is None:
        spans = has_spans(catalog_dir)
    pattern = f"{SPAN_DIR_PREFIX}{{SPAN}}/*" if spans else "*"
    input_config = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="catalog", pattern=pattern)])
    output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in splits.items()],
        partition_feature_name="id"))
    return FileBasedExampleGen(
        input_base=catalog_dir,
        input_config=input_config,
        output_config=output_config,
        custom_config=catalog_custom_config(condition_attributes, min_side, folder_attribute, layout),
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    )
