"""Export: a SavedModel with string-keyed signatures `generate`, `edit`, `edit_background` and `serving_default`.

The contract is in ARCHITECTURE.md ("SavedModel signatures"). Vocabulary files travel in `assets/`, so the
exported model knows its vocabulary and refuses values outside it with a message that lists the valid ones.
Attribute values may be weighted mixes: "Red:0.7,White:0.3".
"""
import os
from typing import Dict, List

import tensorflow as tf

from models import image_ops
from models.background import background_flags

KEEP = ""  # edit: an empty target value keeps that attribute as it is


def read_vocabulary(path: str) -> List[str]:
    with tf.io.gfile.GFile(path) as f:
        return [line.rstrip("\n") for line in f if line.rstrip("\n")]


class VitrineModule(tf.Module):
    """Holds the (EMA) generator, the editor and one vocabulary table per condition attribute."""

    def __init__(self, generator, editor, vocabulary_files: Dict[str, str], resolution: int, z_dim: int):
        super().__init__(name="vitrine")
        self.generator = generator
        self.editor = editor
        self.attributes = sorted(vocabulary_files)
        self.resolution = int(resolution)
        self.z_dim = int(z_dim)
        self._vocab_assets = {}
        self._tables = {}
        self._vocab_text = {}
        self._vocab_size = {}
        for attribute in self.attributes:
            asset = tf.saved_model.Asset(vocabulary_files[attribute])
            self._vocab_assets[attribute] = asset
            values = read_vocabulary(vocabulary_files[attribute])
            self._vocab_size[attribute] = len(values)
            self._vocab_text[attribute] = tf.constant(", ".join(values))
            initializer = tf.lookup.TextFileInitializer(
                asset,
                key_dtype=tf.string,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            )
            self._tables[attribute] = tf.lookup.StaticHashTable(initializer, default_value=-1)

    # -- conditions ---------------------------------------------------------------------------------
    def condition_weights(self, attribute: str, values: tf.Tensor, allow_keep: bool):
        """Strings [N] ("Red" or "Red:0.7,White:0.3") -> (weights [N, V] float32, argmax ids [N] int64).

        Unknown or empty values raise InvalidArgumentError naming the attribute and listing valid values;
        with allow_keep an empty value gives all-zero weights ("keep as is") and id -1.
        """
        size = self._vocab_size[attribute]
        values = tf.strings.strip(values)
        keep = tf.equal(values, KEEP) if allow_keep else tf.zeros_like(values, dtype=tf.bool)
        parts = tf.strings.split(tf.where(keep, "__keep__", values), ",")  # ragged [N, K]
        lengths = parts.row_lengths()
        parts = parts.to_tensor(default_value="")  # [N, K]
        valid_part = tf.sequence_mask(lengths, tf.shape(parts)[1])
        name_weight = tf.strings.split(parts, ":", maxsplit=1).to_tensor(default_value="", shape=[None, None, 2])
        names = tf.strings.strip(name_weight[..., 0])
        weight_text = tf.strings.strip(name_weight[..., 1])
        ids = self._tables[attribute].lookup(names)  # [N, K]
        unknown = tf.logical_and(valid_part, tf.logical_and(ids < 0, tf.logical_not(keep[:, None])))
        first_bad = tf.gather_nd(names, tf.where(unknown)[:1])
        message = tf.strings.join(
            ["Unknown ", attribute, ": '", tf.strings.reduce_join(first_bad), "'. Valid values: ",
             self._vocab_text[attribute]]
        )
        checks = [tf.debugging.Assert(tf.logical_not(tf.reduce_any(unknown)), [message])]
        weights_ok = tf.strings.regex_full_match(weight_text, r"(|[0-9]*\.?[0-9]+)")
        bad_weight = tf.logical_and(valid_part, tf.logical_not(weights_ok))
        checks.append(
            tf.debugging.Assert(
                tf.logical_not(tf.reduce_any(bad_weight)),
                [tf.strings.join(["Bad weight in ", attribute, ": '",
                                  tf.strings.reduce_join(tf.gather_nd(parts, tf.where(bad_weight)[:1])),
                                  "'. Use value or value:weight[,value:weight], e.g. Red:0.7,White:0.3"])],
            )
        )
        with tf.control_dependencies(checks):
            parseable = tf.logical_and(weights_ok, tf.not_equal(weight_text, ""))
            weights = tf.strings.to_number(tf.where(parseable, weight_text, "1"), tf.float32)
            weights = tf.where(tf.logical_and(valid_part, ids >= 0), weights, 0.0)
            one_hot = tf.one_hot(tf.maximum(ids, 0), size, dtype=tf.float32) * weights[..., None]
            mix = tf.reduce_sum(one_hot, axis=1)  # [N, V]
            total = tf.reduce_sum(mix, axis=1, keepdims=True)
            mix = tf.math.divide_no_nan(mix, total)
            top = tf.where(tf.reduce_sum(mix, axis=1) > 0, tf.argmax(mix, axis=1), tf.constant(-1, tf.int64))
        return mix, top

    def _conditions(self, attribute_values: Dict[str, tf.Tensor], allow_keep: bool):
        weights, ids = {}, {}
        for attribute in self.attributes:
            weights[attribute], ids[attribute] = self.condition_weights(
                attribute, attribute_values[attribute], allow_keep
            )
        return weights, ids

    # -- generate -----------------------------------------------------------------------------------
    def _latents(self, seed: tf.Tensor, truncation: tf.Tensor) -> tf.Tensor:
        seeds = tf.stack([tf.cast(seed, tf.int64), tf.zeros_like(seed, tf.int64)], axis=1)
        z = tf.map_fn(
            lambda s: tf.random.stateless_normal([self.z_dim], seed=s),
            seeds,
            fn_output_signature=tf.TensorSpec([self.z_dim], tf.float32),
        )
        # Truncation as latent scaling: 1 keeps the trained distribution, towards 0 trades diversity for fidelity.
        return z * tf.clip_by_value(tf.cast(truncation, tf.float32), 0.0, 2.0)[:, None]

    def _generate(self, attribute_values, seed, truncation):
        count = tf.shape(seed)[0]
        checks = [
            tf.debugging.assert_equal(tf.shape(attribute_values[a])[0], count,
                                      message=f"{a} must have one value per seed (the batch is the image count)")
            for a in self.attributes
        ]
        checks.append(tf.debugging.assert_equal(tf.shape(truncation)[0], count,
                                                message="truncation must have one value per seed"))
        with tf.control_dependencies(checks):
            weights, ids = self._conditions(attribute_values, allow_keep=False)
            z = self._latents(seed, truncation)
        images = self.generator({"z": z, **weights}, training=False)
        images_uint8 = image_ops.to_uint8(images)
        outputs = {"images": images_uint8, "png": image_ops.encode_png_batch(images_uint8)}
        outputs.update({f"{a}_id": ids[a] for a in self.attributes})
        return outputs

    # -- edit ---------------------------------------------------------------------------------------
    def _decode_images(self, image_bytes: tf.Tensor) -> tf.Tensor:
        signatures = ((b"\xff\xd8", 2), (b"\x89PNG", 4), (b"GIF8", 4), (b"BM", 2))  # JPEG, PNG, GIF, BMP
        known = tf.reduce_any(
            tf.stack([tf.equal(tf.strings.substr(image_bytes, 0, n), magic) for magic, n in signatures], axis=0),
            axis=0,
        )
        check = tf.debugging.Assert(
            tf.reduce_all(known),
            [tf.strings.join(["image_bytes[", tf.strings.as_string(tf.argmin(tf.cast(known, tf.int32))),
                              "] is not a JPEG, PNG, GIF or BMP image"])],
        )
        with tf.control_dependencies([check]):
            return tf.map_fn(
                lambda e: image_ops.decode_and_resize(e, self.resolution),
                image_bytes,
                fn_output_signature=tf.TensorSpec([self.resolution, self.resolution, 3], tf.float32),
            )

    def _edit(self, image_bytes, attribute_values, strength, background=None):
        """`background` strings [N] ("" / "keep" or "white"); None keeps every background (the `edit` signature)."""
        images = self._decode_images(image_bytes)
        weights, _ = self._conditions(attribute_values, allow_keep=True)
        strength = tf.clip_by_value(tf.cast(strength, tf.float32), 0.0, 1.0)[:, None]
        if background is None:
            flags = tf.zeros_like(strength)
        else:
            count = tf.shape(image_bytes)[0]
            check = tf.debugging.assert_equal(tf.shape(background)[0], count,
                                              message="background must have one value per image")
            with tf.control_dependencies([check]):
                flags = background_flags(background)
        result = self.editor({"image": images, "strength": strength, "background": flags, **weights},
                             training=False)
        edited = image_ops.to_uint8(result["image"])
        return {"images": edited, "png": image_ops.encode_png_batch(edited),
                "mask": tf.cast(result["mask"], tf.float32)}

    # -- signatures ---------------------------------------------------------------------------------
    def signatures(self):
        # Signatures take named tensors (keyword arguments), so clients send one input per attribute.
        attribute_specs = {a: tf.TensorSpec([None], tf.string, name=a) for a in self.attributes}
        attrs = self.attributes

        def generate(**inputs):
            return self._generate({a: inputs[a] for a in attrs}, inputs["seed"], inputs["truncation"])

        def edit(**inputs):
            return self._edit(inputs["image_bytes"], {a: inputs[a] for a in attrs}, inputs["strength"])

        def edit_background(**inputs):
            return self._edit(inputs["image_bytes"], {a: inputs[a] for a in attrs}, inputs["strength"],
                              inputs["background"])

        feature_spec = {a: tf.io.FixedLenFeature([], tf.string) for a in attrs}
        feature_spec["seed"] = tf.io.FixedLenFeature([], tf.int64, default_value=0)
        feature_spec["truncation"] = tf.io.FixedLenFeature([], tf.float32, default_value=1.0)

        def serving_default(examples):
            parsed = tf.io.parse_example(examples, feature_spec)
            return self._generate({a: parsed[a] for a in attrs}, parsed["seed"], parsed["truncation"])

        return {
            "generate": tf.function(generate).get_concrete_function(
                **attribute_specs,
                seed=tf.TensorSpec([None], tf.int64, name="seed"),
                truncation=tf.TensorSpec([None], tf.float32, name="truncation")),
            "edit": tf.function(edit).get_concrete_function(
                **attribute_specs,
                image_bytes=tf.TensorSpec([None], tf.string, name="image_bytes"),
                strength=tf.TensorSpec([None], tf.float32, name="strength")),
            # `edit` plus the background request; a separate signature, so `edit` callers keep their contract
            "edit_background": tf.function(edit_background).get_concrete_function(
                **attribute_specs,
                image_bytes=tf.TensorSpec([None], tf.string, name="image_bytes"),
                strength=tf.TensorSpec([None], tf.float32, name="strength"),
                background=tf.TensorSpec([None], tf.string, name="background")),
            "serving_default": tf.function(serving_default).get_concrete_function(
                tf.TensorSpec([None], tf.string, name="examples")),
        }


def export_saved_model(export_dir: str, generator, editor, vocabulary_files: Dict[str, str],
                       resolution: int, z_dim: int) -> str:
    """Writes the serving SavedModel to export_dir and returns it."""
    module = VitrineModule(generator, editor, vocabulary_files, resolution, z_dim)
    tf.io.gfile.makedirs(export_dir)
    tf.saved_model.save(module, export_dir, signatures=module.signatures())
    return export_dir


def vocabulary_asset_path(export_dir: str, attribute_file: str) -> str:
    return os.path.join(export_dir, "assets", os.path.basename(attribute_file))
