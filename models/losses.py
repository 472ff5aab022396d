"""GAN losses. Each returns a per-example vector [B] so the caller controls the (distribution-aware) reduction."""
import tensorflow as tf


def d_hinge(real_logits, fake_logits):
    """Discriminator hinge loss terms: relu(1 - D(real)), relu(1 + D(fake)); each [B]."""
    return (tf.nn.relu(1.0 - tf.reshape(real_logits, [-1])), tf.nn.relu(1.0 + tf.reshape(fake_logits, [-1])))


def g_hinge(fake_logits):
    """Generator hinge loss -D(fake), [B]."""
    return -tf.reshape(fake_logits, [-1])


def d_nonsaturating(real_logits, fake_logits):
    return (tf.nn.softplus(-tf.reshape(real_logits, [-1])), tf.nn.softplus(tf.reshape(fake_logits, [-1])))


def g_nonsaturating(fake_logits):
    return tf.nn.softplus(-tf.reshape(fake_logits, [-1]))


def r1_penalty(gradients):
    """R1: ||∇_x D(x_real)||², [B]; multiply by gamma / 2 (done by the caller)."""
    return tf.reduce_sum(tf.square(tf.cast(gradients, tf.float32)), axis=[1, 2, 3])


def lecam_terms(real_logits, fake_logits, real_anchor, fake_anchor):
    """LeCam (Tseng et al. 2021): relu(D(real) - a_fake)², relu(a_real - D(fake))²; each [B].

    The anchors are moving averages of D's mean scores on real images (a_real) and on fakes (a_fake), taken without
    gradient: a real image's score is pulled towards the fakes' average only where it lies above it, and a fake's
    towards the reals' average only where it lies below it."""
    real_logits = tf.cast(tf.reshape(real_logits, [-1]), tf.float32)
    fake_logits = tf.cast(tf.reshape(fake_logits, [-1]), tf.float32)
    real_anchor = tf.stop_gradient(tf.cast(real_anchor, tf.float32))
    fake_anchor = tf.stop_gradient(tf.cast(fake_anchor, tf.float32))
    return tf.square(tf.nn.relu(real_logits - fake_anchor)), tf.square(tf.nn.relu(real_anchor - fake_logits))


def soft_cross_entropy(target_weights, logits):
    """Cross-entropy against a weights vector [B, V] (one-hot or a mix); rows of all zeros contribute 0. [B]."""
    target_weights = tf.cast(target_weights, tf.float32)
    return -tf.reduce_sum(target_weights * tf.nn.log_softmax(tf.cast(logits, tf.float32)), axis=-1)


def excess_over(values, floor):
    """max(0, values - floor) per example, [B]: a loss that stops rewarding once it is below `floor`.

    The generator's classification term uses it with floor = the discriminator classifier's cross-entropy on the
    step's real images (no gradient), so G is not pushed to samples more classifiable than real photos.
    """
    return tf.nn.relu(tf.cast(values, tf.float32) - tf.stop_gradient(tf.cast(floor, tf.float32)))


def mask_cross_entropy(mask, target, eps: float = 1e-6):
    """Mean binary cross-entropy per example, [B], of a sigmoid mask [B,H,W,1] against a 0/1 target."""
    mask = tf.clip_by_value(tf.cast(mask, tf.float32), eps, 1.0 - eps)
    target = tf.cast(target, tf.float32)
    return -tf.reduce_mean(target * tf.math.log(mask) + (1.0 - target) * tf.math.log(1.0 - mask), axis=[1, 2, 3])


def masked_l1(a, b, mask=None):
    """Mean absolute difference per example, [B]; with mask [B,H,W,1] only where mask > 0 (weighted)."""
    diff = tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32))
    if mask is None:
        return tf.reduce_mean(diff, axis=[1, 2, 3])
    mask = tf.cast(mask, tf.float32)
    total = tf.reduce_sum(diff * mask, axis=[1, 2, 3])
    return total / (tf.reduce_sum(mask, axis=[1, 2, 3]) * tf.cast(tf.shape(diff)[-1], tf.float32) + 1e-6)
