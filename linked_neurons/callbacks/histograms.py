"""The ``ActivationHistograms`` callback: activation histograms in TensorBoard."""

import importlib.util
import io
import math
import numbers
import os

import keras
import numpy as np

from linked_neurons import monitoring
from linked_neurons._backend import tensorflow_required
from linked_neurons._validation import check_bool, check_int, check_seed
from linked_neurons.monitoring.selection import _channel_axes
from linked_neurons.monitoring.statistics import _check_threshold

#: Image summaries the callback can write.
IMAGES = ("histogram", "activation_map")

_FREQ_UNITS = ("batch", "epoch")


def histogram_buckets(values, buckets=30):
    """TensorBoard histogram buckets of ``values``.

    The buckets split ``[min, max]`` of the finite values into ``buckets``
    equal bins (the last one includes ``max``), as TensorBoard's own
    histogram summary does; a constant input gets the bins of ``[v - 0.5, v +
    0.5]``.

    Args:
        values: Array of any shape.
        buckets: Number of bins.

    Returns:
        A float64 array of shape ``(buckets, 3)``: ``[left edge, right edge,
        count]`` per bin (all zeros when no value is finite).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros((buckets, 3), dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=buckets, range=(low, high))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def activation_grid(example, channel_axis=-1, pad=1):
    """Lays one example's activations out as a 2-D image.

    Args:
        example: The output for one sample (no batch axis).
        channel_axis: Axis of the channels in ``example``.
        pad: Pixels between the tiles.

    Returns:
        A float64 array of shape ``(height, width)``, NaN in the padding:

        - vector ``(F,)``: the features row-major in a grid of
          ``ceil(sqrt(F))`` columns;
        - sequence ``(L, C)``: one row per channel, one column per step;
        - feature map ``(H, W, C)`` (any channel axis): one ``H x W`` tile per
          channel, ``ceil(sqrt(C))`` tiles per row, ``pad`` pixels between
          tiles. Higher ranks are flattened to ``(H, W * ...)`` maps.
    """
    example = np.asarray(example, dtype=np.float64)
    if example.ndim == 0:
        example = example.reshape(1)
    if example.ndim == 1:
        cols = int(math.ceil(math.sqrt(example.size)))
        rows = int(math.ceil(example.size / cols))
        grid = np.full(rows * cols, np.nan)
        grid[: example.size] = example
        return grid.reshape(rows, cols)
    example = np.moveaxis(example, channel_axis % example.ndim, -1)
    if example.ndim == 2:
        return example.T.copy()
    channels = example.shape[-1]
    maps = example.reshape(example.shape[0], -1, channels)
    height, width = maps.shape[:2]
    cols = int(math.ceil(math.sqrt(channels)))
    rows = int(math.ceil(channels / cols))
    grid = np.full((rows * (height + pad) - pad, cols * (width + pad) - pad), np.nan)
    for c in range(channels):
        r, k = divmod(c, cols)
        top, left = r * (height + pad), k * (width + pad)
        grid[top : top + height, left : left + width] = maps[:, :, c]
    return grid


def _to_uint8(grid, zoom):
    finite = np.isfinite(grid)
    image = np.zeros(grid.shape, dtype=np.uint8)
    if finite.any():
        low, high = float(grid[finite].min()), float(grid[finite].max())
        scale = 255.0 / (high - low) if high > low else 0.0
        image[finite] = np.round((grid[finite] - low) * scale).astype(np.uint8)
    image[~finite] = 0
    if zoom > 1:
        image = np.repeat(np.repeat(image, zoom, axis=0), zoom, axis=1)
    return image


def _has_tensorflow():
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def _tensorflow(caller):
    try:
        tf = tensorflow_required(
            f"{caller}: writing TensorBoard logs (log_dir=...) uses tf.summary and"
        )
    except ImportError as error:
        raise ImportError(
            f"{error} Or pass log_dir=None to keep the statistics in `records` only."
        ) from None
    if not hasattr(tf.summary, "write") or not hasattr(tf.summary, "create_file_writer"):
        raise ImportError(  # pragma: no cover
            f"{caller}: this TensorFlow has no tf.summary.write; install TensorFlow >= 2.16 "
            "or pass log_dir=None."
        )
    return tf


def _metadata(plugin, data_class, description=""):
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        summary_description=description,
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin, content=b""),
        data_class=summary_pb2.DataClass.Value(data_class),
    )


class ActivationHistograms(keras.callbacks.Callback):
    """Logs histograms and statistics of layer activations to TensorBoard.

    On a fixed batch, every ``freq`` batches (or epochs), the callback runs
    the model in inference mode up to the chosen layers (through a side model
    that is built once and shares the model's weights) and writes, per layer:

    - a TensorBoard histogram of the outputs, tag ``<layer>/activations``;
    - scalars ``<layer>/<statistic>`` for ``mean``, ``std``, ``min``,
      ``max``, ``zero_fraction``, ``negative_fraction`` and
      ``dead_fraction`` (the fraction of units, channels of a feature map,
      that are zero for every sample and position of the batch; see
      :func:`linked_neurons.monitoring.dead_units`);
    - optionally images: ``<layer>/histogram`` (a matplotlib histogram) and
      ``<layer>/activation_map`` (the first example's activations, one tile
      per channel, see :func:`activation_grid`).

    The summaries go to ``os.path.join(log_dir, run_name)``, by default
    ``<log_dir>/activations``: Keras' own ``keras.callbacks.TensorBoard``
    writes its ``train`` and ``validation`` runs into the same ``log_dir``
    without clashing, and TensorBoard shows the three runs side by side. The
    events are written with ``tf.summary.write`` and TensorBoard's plugin
    metadata, so the callback works on every Keras backend (JAX and PyTorch
    included: activations are computed by the backend, summaries are written
    from NumPy) and needs only TensorFlow installed (the ``tensorflow``
    extra), not the ``tensorboard`` package (needed only to view them). The
    side model runs outside the compiled training step, so ``model.fit`` may
    use ``jit_compile=True``, and it only reads the weights: training is the
    same with and without the callback.

    With ``log_dir=None`` nothing is written; the statistics are still kept in
    ``records``.

    Args:
        log_dir: Folder of the TensorBoard logs, or None to only keep
            ``records``.
        layers: Layers to watch: names or layers of the model (top level);
            None for every activation-like layer (see
            :func:`linked_neurons.monitoring.is_activation_layer`).
        data: The fixed batch: an array, a list or dict of arrays, a tuple
            ``(x, y)``, or a ``tf.data.Dataset`` / iterable of batches (its
            first batch is used). Arrays are used whole unless ``batch_size``
            is given. None draws ``batch_size`` (default 64) samples from a
            standard normal distribution, with the model's input shape and
            ``seed``: the zero-mean, unit-variance inputs of self-normalising
            network analyses.
        freq: Log every ``freq`` batches or epochs (integer >= 1).
        freq_unit: ``"batch"`` (default) or ``"epoch"``. With ``"batch"``
            the step of each summary is the number of training batches done
            (``optimizer.iterations``, as Keras' ``TensorBoard`` uses); with
            ``"epoch"`` it is the number of epochs done.
        histograms: Whether to write histograms.
        statistics: Names of the scalar statistics to write (a subset of
            :data:`linked_neurons.monitoring.STATISTICS`; empty for none).
        images: False (default), True for both image kinds, or a list of
            ``"histogram"`` and ``"activation_map"``. ``"histogram"`` needs
            matplotlib.
        buckets: Number of histogram bins (30, TensorBoard's default).
        run_name: Sub-folder of ``log_dir`` for the summaries; None or
            ``""`` writes into ``log_dir`` itself.
        batch_size: Number of samples of the fixed batch (see ``data``).
        seed: Seed of the normal inputs drawn when ``data`` is None.
        log_initial: Also log once when training starts (step 0 on a new
            model), before any update.
        channel_axis: Axis of the units, for ``dead_fraction`` and the
            activation maps: None to infer it per layer, an int, or a dict
            from layer name to int (see
            :func:`linked_neurons.monitoring.activation_statistics`).
        threshold: Outputs with ``|y| <= threshold`` count as zero.
        image_size: ``(width, height)`` in pixels of the histogram images.
        image_zoom: Integer enlargement of the activation maps (each value
            becomes ``image_zoom x image_zoom`` pixels).

    Attributes:
        records: A list with one dict per layer and logging step: ``step``,
            ``layer`` and every statistic of
            :data:`~linked_neurons.monitoring.STATISTICS`. It grows across
            calls to ``fit``.
        last_outputs: Dict from layer name to the NumPy outputs on the fixed
            batch at the last logging step.
        log_path: Folder the summaries are written to (None without
            ``log_dir``).

    Raises:
        ValueError: For ``freq < 1``, an unknown ``freq_unit``, statistic or
            image kind; when training starts, for layer names the model does
            not have, layers of another model, or a model whose inputs the
            callback cannot reach.
        ImportError: If images of kind ``"histogram"`` are asked for without
            matplotlib, or ``log_dir`` is given without TensorFlow installed
            (``pip install -e ".[tensorflow]"``; it may sit beside
            the JAX or PyTorch backend).

    Example:

        >>> import os, tempfile
        >>> import keras, numpy as np
        >>> from linked_neurons import LKReLU
        >>> from linked_neurons.callbacks import ActivationHistograms
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
        ...                           LKReLU(name="lk"), keras.layers.Dense(1)])
        >>> model.compile("adam", "mse")
        >>> x, y = np.ones((16, 4), "float32"), np.zeros((16, 1), "float32")
        >>> log_dir = tempfile.mkdtemp()
        >>> callback = ActivationHistograms(log_dir, data=x[:8], freq=2)
        >>> _ = model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
        >>> [(r["step"], r["layer"]) for r in callback.records]
        [(0, 'lk'), (2, 'lk'), (4, 'lk')]
        >>> os.listdir(log_dir)
        ['activations']
    """

    def __init__(
        self,
        log_dir,
        layers=None,
        data=None,
        freq=100,
        freq_unit="batch",
        histograms=True,
        statistics=monitoring.STATISTICS,
        images=False,
        buckets=30,
        run_name="activations",
        batch_size=None,
        seed=0,
        log_initial=True,
        channel_axis=None,
        threshold=0.0,
        image_size=(400, 300),
        image_zoom=4,
    ):
        super().__init__()
        name = "ActivationHistograms"
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(
                f"{name}: `log_dir` must be a path or None, got {log_dir!r} of type "
                f"{type(log_dir).__name__}."
            )
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        if self.log_dir is not None and not _has_tensorflow():
            _tensorflow(name)  # fails now, naming the extra, rather than once training starts
        self.freq = _positive_int(name, "freq", freq)
        if not isinstance(freq_unit, str) or freq_unit.lower() not in _FREQ_UNITS:
            raise ValueError(
                f"{name}: `freq_unit` must be 'batch' or 'epoch', got {freq_unit!r}."
            )
        self.freq_unit = freq_unit.lower()
        self.histograms = check_bool(name, "histograms", histograms)
        self.statistics = _choices(name, "statistics", statistics, monitoring.STATISTICS)
        if images is True:
            images = IMAGES
        elif images is False or images is None:
            images = ()
        self.images = _choices(name, "images", images, IMAGES)
        if "histogram" in self.images:
            try:
                import matplotlib  # noqa: F401
            except ImportError as error:
                raise ImportError(
                    f"{name}: histogram images need matplotlib (pip install matplotlib, or "
                    f'pip install -e ".[monitoring]"); or pass '
                    f'images=["activation_map"].'
                ) from error
        self.buckets = _positive_int(name, "buckets", buckets)
        if run_name is not None and not isinstance(run_name, str):
            raise TypeError(f"{name}: `run_name` must be a str or None, got {run_name!r}.")
        self.run_name = run_name or None
        self.batch_size = None if batch_size is None else _positive_int(
            name, "batch_size", batch_size
        )
        self.seed = check_seed(name, "seed", seed)
        self.log_initial = check_bool(name, "log_initial", log_initial)
        self.channel_axis = None if channel_axis is None else check_int(
            name, "channel_axis", channel_axis
        )
        _check_threshold(threshold, name)
        self.threshold = float(threshold)
        if (
            not isinstance(image_size, (tuple, list))
            or len(image_size) != 2
            or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 16
                   for v in image_size)
        ):
            raise ValueError(
                f"{name}: `image_size` must be (width, height) in pixels, each an int >= 16, "
                f"got {image_size!r}."
            )
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.image_zoom = _positive_int(name, "image_zoom", image_zoom)
        self.layers = layers
        self.data = data
        self.records = []
        self.last_outputs = {}
        self.log_path = (
            None
            if self.log_dir is None
            else (os.path.join(self.log_dir, self.run_name) if self.run_name else self.log_dir)
        )
        self._probe = None
        self._probe_model = None
        self._axes = None
        self._x = None
        self._writer = None
        self._seen_step = 0
        self._logged_steps = set()
        self._epoch_started = False

    # ------------------------------------------------------------------ setup
    def _build(self):
        """Builds the side model and the fixed batch, once per model."""
        if self._probe is not None and self._probe_model is self.model:
            return
        self._probe = monitoring.ActivationProbe(
            self.model, self.layers, caller="ActivationHistograms"
        )
        self._axes = _channel_axes(
            self._probe.layers, self.channel_axis, "ActivationHistograms"
        )
        self._probe_model = self.model
        self._x = self._fixed_batch()
        self._logged_steps = set()

    def _fixed_batch(self):
        name = "ActivationHistograms"
        if self.data is not None:
            return monitoring.first_batch(self.data, self.batch_size, caller=name)
        rng = np.random.default_rng(self.seed)
        size = self.batch_size or 64
        batch = []
        for tensor in self.model.inputs:
            shape = tuple(tensor.shape)[1:]
            dtype = keras.backend.standardize_dtype(tensor.dtype)
            if any(d is None for d in shape) or "float" not in dtype:
                raise ValueError(
                    f"{name}: cannot draw normal inputs for input '{tensor.name}' of shape "
                    f"{tuple(tensor.shape)} and dtype {dtype}; pass `data`, a fixed batch."
                )
            batch.append(rng.standard_normal((size, *shape)).astype(dtype))
        return batch[0] if len(batch) == 1 else batch

    def _tf_writer(self):
        if self.log_path is None:
            return None
        if self._writer is None:
            tf = _tensorflow("ActivationHistograms")
            os.makedirs(self.log_path, exist_ok=True)
            self._writer = tf.summary.create_file_writer(self.log_path)
        return self._writer

    # --------------------------------------------------------------- logging
    def log(self, step):
        """Computes the activations on the fixed batch and logs them at ``step``.

        Called by the training hooks; may also be called directly (for
        example after ``fit``) once the callback has a model.

        Args:
            step: Integer step of the summaries.

        Returns:
            The records added, one dict per layer.
        """
        if self.model is None:
            raise ValueError("ActivationHistograms.log: the callback has no model yet.")
        self._build()
        step = int(step)
        outputs = self._probe(self._x)
        self.last_outputs = outputs
        added = []
        summaries = []
        for name, values in outputs.items():
            axis = self._probe.channel_axis(name, values.ndim, self._axes[name])
            running = monitoring.RunningStatistics(axis, self.threshold)
            running.update(values)
            stats = running.result()
            record = {"step": step, "layer": name}
            record.update({key: stats[key] for key in monitoring.STATISTICS})
            added.append(record)
            summaries.append((name, values, axis, record))
        self.records.extend(added)
        self._logged_steps.add(step)
        writer = self._tf_writer()
        if writer is not None:
            self._write(writer, step, summaries)
        return added

    def _write(self, writer, step, summaries):
        tf = _tensorflow("ActivationHistograms")
        scalar = _metadata("scalars", "DATA_CLASS_SCALAR")
        histogram = _metadata("histograms", "DATA_CLASS_TENSOR")
        image = _metadata("images", "DATA_CLASS_BLOB_SEQUENCE")
        # Keras' TensorBoard callback may have set a record_if condition on its own
        # step counter; these summaries follow this callback's own schedule.
        with writer.as_default(step=step), tf.summary.record_if(True):
            for name, values, axis, record in summaries:
                if self.histograms:
                    buckets = histogram_buckets(values, self.buckets)
                    tf.summary.write(
                        f"{name}/activations", tf.constant(buckets, tf.float64), step, histogram
                    )
                for key in self.statistics:
                    tf.summary.write(
                        f"{name}/{key}", tf.constant(record[key], tf.float32), step, scalar
                    )
                for kind in self.images:
                    png, width, height = self._image(kind, name, values, axis, step)
                    blob = tf.constant([str(width).encode(), str(height).encode(), png])
                    tf.summary.write(f"{name}/{kind}", blob, step, image)
        writer.flush()

    def _image(self, kind, name, values, axis, step):
        if kind == "activation_map":
            grid = activation_grid(values[0], channel_axis=axis - 1)
            pixels = _to_uint8(grid, self.image_zoom)
            return _encode_png(pixels), pixels.shape[1], pixels.shape[0]
        from matplotlib.figure import Figure

        width, height = self.image_size
        figure = Figure(figsize=(width / 100, height / 100), dpi=100)
        axes = figure.add_axes((0.13, 0.15, 0.82, 0.72))
        finite = values[np.isfinite(values)].astype(np.float64).ravel()
        axes.hist(finite, bins=self.buckets, color="tab:blue")
        axes.set_title(f"{name}, step {step}", fontsize=9)
        axes.tick_params(labelsize=7)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue(), width, height

    # ----------------------------------------------------------------- hooks
    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        if iterations is None:
            return None
        return int(keras.ops.convert_to_numpy(iterations))

    def on_train_begin(self, logs=None):
        self._build()
        self._epoch_started = False
        if self.freq_unit == "batch":
            self._seen_step = self._iterations() or 0
            if self.log_initial and self._seen_step not in self._logged_steps:
                self.log(self._seen_step)

    def on_epoch_begin(self, epoch, logs=None):
        if self.freq_unit == "epoch" and not self._epoch_started:
            self._epoch_started = True
            if self.log_initial and epoch not in self._logged_steps:
                self.log(epoch)

    def on_train_batch_end(self, batch, logs=None):
        if self.freq_unit != "batch":
            return
        step = self._iterations()
        if step is None:
            step = self._seen_step + 1
        previous, self._seen_step = self._seen_step, step
        if step // self.freq > previous // self.freq:
            self.log(step)

    def on_epoch_end(self, epoch, logs=None):
        if self.freq_unit == "epoch" and (epoch + 1) % self.freq == 0:
            self.log(epoch + 1)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    def get_config(self):
        """The constructor arguments, except ``data`` (the fixed batch)."""
        return {
            "log_dir": self.log_dir,
            "layers": [
                layer if isinstance(layer, str) else layer.name
                for layer in ([self.layers] if isinstance(self.layers, str) else self.layers)
            ]
            if self.layers is not None
            else None,
            "freq": self.freq,
            "freq_unit": self.freq_unit,
            "histograms": self.histograms,
            "statistics": list(self.statistics),
            "images": list(self.images),
            "buckets": self.buckets,
            "run_name": self.run_name,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "log_initial": self.log_initial,
            "channel_axis": self.channel_axis,
            "threshold": self.threshold,
            "image_size": list(self.image_size),
            "image_zoom": self.image_zoom,
        }


def _encode_png(pixels):
    tf = _tensorflow("ActivationHistograms")
    return tf.io.encode_png(pixels[..., None]).numpy()


def _positive_int(caller, name, value):
    return check_int(caller, name, value, low=1)


def _choices(caller, name, values, allowed):
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(
            f"{caller}: `{name}` must be a list of names from {list(allowed)}, got {values!r}."
        ) from None
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(
            f"{caller}: unknown {name} {unknown}; expected names from {list(allowed)}."
        )
    if len(set(values)) != len(values):
        raise ValueError(f"{caller}: `{name}` lists a name twice: {list(values)}.")
    return values
