"""Transform's preprocessing_fn: decode, pad to square on white, resize, scale to [-1, 1], vocabularies.

Referenced by import path (`models.preprocessing.preprocessing_fn`) so the same code runs locally and in
the Kubeflow container. Resolution and condition attributes arrive through Transform's `custom_config`.
Random augmentation does not belong here (Transform output is written once); it lives in the Trainer.
"""
import tensorflow as tf
import tensorflow_transform as tft

from models.image_ops import decode_and_resize

DEFAULT_ATTRIBUTES = ("articleType", "baseColour")
DEFAULT_RESOLUTION = 32


def id_feature(attribute: str) -> str:
    return f"{attribute}_id"


def _dense_strings(tensor: tf.Tensor) -> tf.Tensor:
    if isinstance(tensor, tf.SparseTensor):
        tensor = tf.sparse.to_dense(tensor, default_value="")
    return tf.reshape(tensor, [-1])


def make_preprocessing_fn(resolution: int, attributes):
    def preprocessing_fn(inputs):
        encoded = _dense_strings(inputs["image"])
        images = tf.map_fn(
            lambda e: decode_and_resize(e, resolution),
            encoded,
            fn_output_signature=tf.TensorSpec([resolution, resolution, 3], tf.float32),
        )
        outputs = {"image": images, "id": _dense_strings(inputs["id"])}
        for attribute in attributes:
            # The vocabulary is analysed over every split given to Transform, and unknown values map to -1;
            # the Trainer refuses ids < 0 rather than letting an Embedding wrap them to the last row.
            outputs[id_feature(attribute)] = tft.compute_and_apply_vocabulary(
                _dense_strings(inputs[attribute]), vocab_filename=attribute, default_value=-1
            )
        return outputs

    return preprocessing_fn


def preprocessing_fn(inputs, custom_config=None):
    custom_config = custom_config or {}
    resolution = int(custom_config.get("resolution", DEFAULT_RESOLUTION))
    attributes = tuple(custom_config.get("condition_attributes", DEFAULT_ATTRIBUTES))
    return make_preprocessing_fn(resolution, attributes)(inputs)
