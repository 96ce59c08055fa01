"""Static declarations of ModelBuilder's op methods, for IDEs and type checkers.

Generated from the op classes by ``trtdsl.frontend.signatures.render_stub``: do not edit; run
``python tools/generate_ops.py`` after adding or changing an op.
"""

from __future__ import annotations

from trtdsl.frontend.builder import Tensor
from trtdsl.ir.types import DType

class OpMethods:
    """One method per registered op; ModelBuilder inherits them."""

    def abs(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """|x| elementwise, as ``torch.abs``: float or integer input, same type (an integer's
        most negative value stays itself, as in PyTorch). No weights.

        Adds one ``abs`` node (Abs) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def adaptive_avg_pool2d(
        self,
        input: Tensor,
        /,
        *,
        output_size: int | tuple[int | None, int | None],
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Adaptive average pooling, as ``torch.nn.AdaptiveAvgPool2d``.

        Input (N, C, H, W) -> output (N, C, oh, ow) with ``output_size`` an int, a pair, or a pair
        with None entries (keep that input size). Output cell i averages input rows
        floor(i*H/oh) .. ceil((i+1)*H/oh) - 1 (likewise columns). No weights.

        Adds one ``adaptive_avg_pool2d`` node (AdaptiveAvgPool2d) and returns its output. Inputs
        are positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def add(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a + b with NumPy broadcasting, as ``torch.add``.

        Adds one ``add`` node (Add) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def anchor_points(
        self,
        *tensors: Tensor,
        strides: tuple[int, ...],
        grid_cell_offset: float = 0.5,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Anchor centres of a YOLO head, as Ultralytics' ``make_anchors(feats, strides, 0.5)[0]``
        transposed and unsqueezed (``Detect.anchors.unsqueeze(0)``).

        Inputs: the head's feature maps (N, C_i, H_i, W_i), one per entry of ``strides`` (only
        their static H_i, W_i are read). Output (1, 2, A) with A = sum H_i * W_i, in the first
        input's dtype: row 0 is x = column + ``grid_cell_offset``, row 1 is y = row + offset, in
        grid units of each level, levels in order, row-major within a level. A constant (no
        weights); YOLOv8 at 640x640 with strides [8, 16, 32]: A = 6400 + 1600 + 400 = 8400.

        Adds one ``anchor_points`` node (AnchorPoints) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def anchor_strides(
        self,
        *tensors: Tensor,
        strides: tuple[int, ...],
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """The stride of every anchor of a YOLO head, as Ultralytics'
        ``make_anchors(feats, strides)[1]`` transposed (``Detect.strides``).

        Inputs as ``anchor_points``; output (1, 1, A) in the first input's dtype: ``strides[i]``
        for each of the H_i * W_i anchors of level i. A constant (no weights).

        Adds one ``anchor_strides`` node (AnchorStrides) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def arange(
        self,
        *,
        end: int,
        start: int = 0,
        step: int = 1,
        dtype: DType | str = DType.INT64,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``start, start + step, ...`` up to ``end`` (excluded), as
        ``torch.arange(start, end, step, dtype=dtype)``; computed at build time.

        No inputs; output (n,) with n = ceil((end - start) / step) >= 1. Integer arguments only;
        ``dtype`` int64 (torch's default for them), int32, float32, float16 or bfloat16, in which
        every value must be exact. For a length that follows a dimension of a tensor (a dynamic
        sequence length) use ``arange_like``. Example: ``end=4`` -> [0, 1, 2, 3]. No weights.

        Adds one ``arange`` node (Arange) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def arange_like(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        start: int = 0,
        step: int = 1,
        dtype: DType | str = DType.INT64,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Positions along axis ``dim`` of the input: ``start + step * i`` for
        i < n = ``input.shape[dim]``, as ``torch.arange(start, start + n * step, step)`` with n
        read from the tensor (Hugging Face's ``torch.arange(input_ids.shape[1])``).

        Input: any tensor (only its shape is read); n may be symbolic (dynamic). Output (n,)
        int64 or int32 (``dtype``). Example: BERT's position ids from ``input_ids`` (N, L) with
        ``dim=1`` -> (L,): 0..L-1. No weights.

        Adds one ``arange_like`` node (ArangeLike) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def argmax(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        keepdim: bool = False,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """The index of the largest element along ``dim``, as ``torch.argmax(x, dim, keepdim)``.

        Input (d0, ..., dn) of a float type -> int64 indices with axis ``dim`` removed (kept as
        size 1 with ``keepdim``). Ties give the first index (NaN is treated as largest, as in
        PyTorch). ``dim`` is required (flatten first for a whole-tensor argmax); the reduced axis
        may be symbolic. Example: a segmenter's (N, 21, H, W) scores with ``dim=1`` -> (N, H, W)
        class indices. No weights.

        Adds one ``argmax`` node (ArgMax) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def avg_pool2d(
        self,
        input: Tensor,
        /,
        *,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Average pooling, as ``torch.nn.AvgPool2d`` (no divisor_override).

        Input (N, C, H, W) -> output (N, C, Ho, Wo) by MaxPool2d's size rule. The divisor counts
        the zero padding when ``count_include_pad`` (PyTorch's default), never the ceil-mode
        overhang past the padded input. ``stride=None`` means ``kernel_size``. No weights.

        Adds one ``avg_pool2d`` node (AvgPool2d) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def batch_norm2d(
        self,
        input: Tensor,
        /,
        *,
        eps: float = 1e-05,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Batch normalization with running statistics, as ``torch.nn.BatchNorm2d`` in eval mode.

        Input (N, C, H, W) -> output (N, C, H, W):
        ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`` per channel.

        Weights: ``weight``, ``bias``, ``running_mean``, ``running_var``, each (C,) float32;
        ``num_batches_tracked`` () int64, optional (PyTorch saves it; inference ignores it).

        Adds one ``batch_norm2d`` node (BatchNorm2d) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def cast(
        self,
        input: Tensor,
        /,
        *,
        dtype: DType | str,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Convert to ``dtype``, as ``torch.Tensor.to(dtype)``. Shape preserved, no weights.

        Floats round to nearest even. bfloat16 has no NumPy type: it is held as float32 values
        that are exactly representable in bfloat16. Float -> int truncates toward zero.

        Adds one ``cast`` node (Cast) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def channel_shuffle(
        self,
        input: Tensor,
        /,
        *,
        groups: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Interleave ``groups`` channel groups, as ``torch.nn.ChannelShuffle(groups)``.

        Input (N, C, d2, ..., dk), k >= 2, C divisible by ``groups``; output of the same shape
        where output channel ``j * groups + g`` is input channel ``g * (C // groups) + j``
        (view as (N, groups, C // groups, ...), swap axes 1 and 2, view back).
        Only the batch dimension N may be symbolic. No weights.

        Adds one ``channel_shuffle`` node (ChannelShuffle) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def clip(
        self,
        input: Tensor,
        /,
        *,
        min: float | None = None,
        max: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Clamp to [min, max], as ``torch.clamp``; either bound may be None (unbounded).

        At least one bound is required and min <= max. Shape preserved.

        Adds one ``clip`` node (Clip) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def concat(
        self,
        *tensors: Tensor,
        dim: int = 1,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Join one or more inputs along ``dim``, as ``torch.cat``.

        Inputs: same dtype and rank, equal sizes except along ``dim``, where sizes must be static
        (they are summed). Output size along ``dim`` is the sum. No weights.

        Adds one ``concat`` node (Concat) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def conv2d(
        self,
        input: Tensor,
        /,
        *,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """2-D convolution, as ``torch.nn.Conv2d`` (zero padding, cross-correlation).

        Input (N, C, H, W) -> output (N, out_channels, Ho, Wo) with
        Ho = (H + 2*padding[0] - dilation[0]*(kernel_size[0]-1) - 1) // stride[0] + 1.

        Weights: ``weight`` (out_channels, C // groups, kh, kw); ``bias`` (out_channels,) if bias.

        Adds one ``conv2d`` node (Conv2d) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def conv_transpose2d(
        self,
        input: Tensor,
        /,
        *,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """2-D transposed convolution, as ``torch.nn.ConvTranspose2d``.

        Input (N, C, H, W) -> (N, out_channels, Ho, Wo) with
        Ho = (H - 1)*stride[0] - 2*padding[0] + dilation[0]*(kernel_size[0] - 1)
        + output_padding[0] + 1; ``output_padding`` must be smaller than stride or dilation.

        Weights: ``weight`` (C, out_channels // groups, kh, kw); ``bias`` (out_channels,) if bias.

        Adds one ``conv_transpose2d`` node (ConvTranspose2d) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def count_nonzero(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """The number of non-zero elements along ``dim``, as ``torch.count_nonzero(x, dim)``.

        Input (d0, ..., dn) of a float type -> int64 counts with axis ``dim`` removed (which may
        be symbolic). NaN counts as non-zero. Example: the kept detections of ``nms`` are the
        non-zero scores, ``count_nonzero(scores (N, 300), dim=1)`` -> (N,). No weights.

        Adds one ``count_nonzero`` node (CountNonzero) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def cumsum(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Running sums along ``dim``, as ``torch.cumsum(input, dim)``:
        ``y[i] = x[0] + ... + x[i]``.

        Input: float (same dtype out) or int32/int64 (int64 out, as PyTorch promotes integers);
        same shape; the scanned axis may be symbolic. Example: RoBERTa's position ids are
        ``cumsum(mask, dim=1) * mask + padding_idx``. No weights.

        Adds one ``cumsum`` node (Cumsum) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def dequantize(
        self,
        input: Tensor,
        /,
        *,
        dtype: DType | str = DType.FLOAT32,
        axis: int | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Symmetric dequantization, as TensorRT's IDequantizeLayer: ``y = q * scale``.

        Input: an ``int8`` or ``float8_e4m3`` tensor. Output: the same shape, of ``dtype``
        (float32, float16 or bfloat16; the product is computed in float32 and then rounded).

        Weights: ``scale``, () per tensor or (q.shape[axis],) per channel; strictly positive.

        Adds one ``dequantize`` node (Dequantize) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def div(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a / b (true division) with NumPy broadcasting, as ``torch.div``; floating point only.

        Integer inputs are a ShapeError: torch would promote them to float, which the IR's
        same-dtype rule cannot express; insert a cast first.

        Adds one ``div`` node (Div) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def dropout(
        self,
        input: Tensor,
        /,
        *,
        p: float = 0.5,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Dropout at inference: the identity, as ``torch.nn.Dropout`` in eval mode.

        ``p`` (0 <= p <= 1) is kept only so that models round-trip. Any type; no weights.

        Adds one ``dropout`` node (Dropout) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def embedding(
        self,
        input: Tensor,
        /,
        *,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Rows of ``weight`` picked by integer ids, as ``torch.nn.Embedding`` (eval).

        Input: ids of any shape (*), int32 or int64, each in [0, num_embeddings) -> output
        (*, embedding_dim) float32. An id outside that range is an error of the reference, which
        names the node and the id (TensorRT's gather does not check it). ``padding_idx`` only
        matters in training (its row gets no gradient) and is kept so that models round-trip.
        Example: BERT's ``embeddings.word_embeddings`` (30522 x 768) on ``input_ids`` (N, L) ->
        (N, L, 768). The table keeps float32 in half-precision builds; its readers cast.

        Weight: ``weight`` (num_embeddings, embedding_dim).

        Adds one ``embedding`` node (Embedding) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def eq(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a == b elementwise, as ``torch.eq``: bool.

        Adds one ``eq`` node (Eq) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def expand(
        self,
        *tensors: Tensor,
        sizes: tuple[int | str, ...],
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Broadcast size-1 axes to ``sizes``, as ``torch.Tensor.expand(*sizes)``.

        ``sizes`` has one entry per output axis (at least the input's rank; extra leading axes are
        new): an int, ``-1`` (keep the input's size; not for new axes), or a symbolic dimension
        name, whose size is that of the same axis of the optional second input ``like`` (of the
        output's rank). Only size-1 axes may change. ViT's ``class_token.expand(n, -1, -1)`` with
        ``n = x.shape[0]`` is ``expand(class_token, x, sizes=[N, -1, -1])``. No weights.

        Adds one ``expand`` node (Expand) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def flatten(
        self,
        input: Tensor,
        /,
        *,
        start_dim: int = 1,
        end_dim: int = -1,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Merge dims start_dim..end_dim into one, as ``torch.flatten``.

        Input (d0, ..., dn) -> (d0, ..., d[start-1], prod(d[start..end]), d[end+1], ...).
        Merging a symbolic dimension with others is a ShapeError. No weights.

        Adds one ``flatten`` node (Flatten) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def full(
        self,
        *,
        size: tuple[int, ...],
        fill_value: float,
        dtype: DType | str = DType.FLOAT32,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, as
        ``torch.full(size, fill_value, dtype=dtype)``; computed at build time.

        No inputs; output dtype[size] (``size`` static, entries >= 1; an empty list is a scalar).
        ``dtype``: float32 (default), float16, bfloat16, int32, int64 or bool; an integer dtype
        needs an integral value, bool 0 or 1; floats may be infinite (-inf for masks), not NaN.
        For a shape that follows a tensor use ``full_like``. No weights.

        Adds one ``full`` node (Full) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def full_like(
        self,
        input: Tensor,
        /,
        *,
        fill_value: float,
        dtype: DType | str | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """A tensor of the input's shape filled with ``fill_value``, as
        ``torch.full_like(input, fill_value, dtype=dtype)``.

        Input: any tensor (only its shape is read; dimensions may be symbolic) -> the same shape,
        in ``dtype`` (default: the input's; float32, float16, bfloat16, int32, int64 or bool).
        Values as for ``full``. Example: BERT's default ``token_type_ids``: ``full_like`` of
        ``input_ids`` (N, L) with ``fill_value=0`` -> int64 (N, L) zeros. No weights.

        Adds one ``full_like`` node (FullLike) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def gather(
        self,
        input: Tensor,
        other: Tensor,
        /,
        *,
        dim: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Elements along ``dim`` at ``index``, as ``torch.gather(input, dim, index)``:
        ``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0``, likewise for other axes.

        Inputs: ``input`` of any dtype and ``index`` int32 or int64 of the same rank, no larger
        than ``input`` on every other axis, every entry in [0, input.shape[dim]) -> the index's
        shape, the input's dtype. Example: per-row picks of scores (N, C) with index (N, 1) and
        ``dim=1`` -> (N, 1). No weights.

        Adds one ``gather`` node (Gather) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def ge(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a >= b elementwise, as ``torch.ge``: bool.

        Adds one ``ge`` node (Ge) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def gelu(
        self,
        input: Tensor,
        /,
        *,
        approximate: str = "none",
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Gaussian error linear unit, as ``torch.nn.functional.gelu``.

        ``approximate="none"``: x * (1 + erf(x / sqrt(2))) / 2;
        ``approximate="tanh"``: x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2.

        Adds one ``gelu`` node (GELU) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def gt(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a > b elementwise, as ``torch.gt``: bool.

        Adds one ``gt`` node (Gt) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def hardsigmoid(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardsigmoid``.

        Adds one ``hardsigmoid`` node (Hardsigmoid) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def hardswish(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """x * min(max(x + 3, 0), 6) / 6, as ``torch.nn.functional.hardswish``.

        Adds one ``hardswish`` node (Hardswish) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def hf_conv1d(
        self,
        input: Tensor,
        /,
        *,
        out_features: int,
        bias: bool = True,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``y = x @ weight + bias``, as Hugging Face's ``transformers.pytorch_utils.Conv1D``
        (GPT-2's ``c_attn``, ``c_proj``, ``c_fc``): a linear layer whose weight is stored
        (in_features, out_features), the transpose of ``torch.nn.Linear``'s.

        Input (*, in_features) -> output (*, out_features); leading dims pass through; the last
        dimension must be static. Example: GPT-2's ``mlp.c_fc`` on (N, L, 768) with
        ``out_features=3072`` -> (N, L, 3072).

        Weights: ``weight`` (in_features, out_features); ``bias`` (out_features,) if bias.

        Adds one ``hf_conv1d`` node (HFConv1D) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def identity(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Returns its input unchanged, as ``torch.nn.Identity``. Any type; no weights.

        Adds one ``identity`` node (Identity) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def index_select(
        self,
        input: Tensor,
        other: Tensor,
        /,
        *,
        dim: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Entries ``index`` of axis ``dim``, as ``torch.index_select(input, dim, index)``.

        Inputs: ``input`` (d0, ..., dn) of any dtype and ``index`` (k,) int32 or int64 with every
        entry in [0, d[dim]) -> (d0, ..., k, ..., dn), the input's dtype. Either may have symbolic
        dimensions. Example: token rows (N, L, E) with ``dim=1`` and index (2,) -> (N, 2, E).
        No weights.

        Adds one ``index_select`` node (IndexSelect) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def interpolate(
        self,
        *tensors: Tensor,
        size: int | tuple[int, int] | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Resize H and W, as ``torch.nn.functional.interpolate`` on (N, C, H, W).

        The output size is one of:

        - ``size`` (an int or (h, w)): a static size;
        - ``scale_factor`` (a number or pair): ``floor(H * scale_factor)``; coordinates map with
          1/scale_factor as in PyTorch (``recompute_scale_factor=None``). A symbolic H needs an
          integer factor;
        - a second input ``like``: its last two dimensions (``size=like.shape[-2:]``, the way
          torchvision's segmentation heads return to the input's size), symbolic or not.

        ``mode``: ``"nearest"`` (source index floor(dst * H / Ho)) or ``"bilinear"``
        (``align_corners`` False: half-pixel centres; True: corners aligned). ``align_corners``
        applies to bilinear only (None means False). No weights.
        Example: FCN's head output (N, 21, (H+7)//8, (W+7)//8) with ``inputs: [head, x]`` ->
        (N, 21, H, W).

        Adds one ``interpolate`` node (Interpolate) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def layer_norm(
        self,
        input: Tensor,
        /,
        *,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-05,
        elementwise_affine: bool = True,
        bias: bool = True,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Layer normalization over the last dimensions, as ``torch.nn.LayerNorm``.

        Input (*, *normalized_shape) -> same shape:
        ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with mean and (biased) variance over
        the last ``len(normalized_shape)`` dimensions, which must equal ``normalized_shape``
        (static). Example: ViT's ``ln_1`` on (N, 197, 768) with ``normalized_shape=768``.

        Weights: ``weight`` and ``bias`` of shape ``normalized_shape`` when
        ``elementwise_affine`` (``bias`` only if ``bias``); none otherwise.

        Adds one ``layer_norm`` node (LayerNorm) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def le(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a <= b elementwise, as ``torch.le``: bool.

        Adds one ``le`` node (Le) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def leaky_relu(
        self,
        input: Tensor,
        /,
        *,
        negative_slope: float = 0.01,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """x if x > 0 else negative_slope * x, as ``torch.nn.functional.leaky_relu``.

        Adds one ``leaky_relu`` node (LeakyReLU) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def linear(
        self,
        input: Tensor,
        /,
        *,
        out_features: int,
        bias: bool = True,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``y = x @ weight.T + bias``, as ``torch.nn.Linear``.

        Input (*, in_features) -> output (*, out_features); leading dims pass through.

        Weights: ``weight`` (out_features, in_features); ``bias`` (out_features,) if bias.

        Adds one ``linear`` node (Linear) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def lt(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a < b elementwise, as ``torch.lt``: bool.

        Adds one ``lt`` node (Lt) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def matmul(
        self,
        input: Tensor,
        other: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``a @ b``, as ``torch.matmul``: batched, with NumPy broadcasting of batch dimensions.

        a (*batch_a, n, k) and b (*batch_b, k, m) -> (*broadcast(batch_a, batch_b), n, m). A rank-1
        a is a row (k,) whose n axis is dropped from the output; a rank-1 b is a column (k,) whose
        m axis is dropped. The contracted sizes must be equal (static or the same symbol); both
        inputs have the same float dtype. Example: attention scores q (N, h, L, d) @ k^T
        (N, h, d, L) -> (N, h, L, L). No weights.

        Adds one ``matmul`` node (MatMul) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def max_pool2d(
        self,
        input: Tensor,
        /,
        *,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Max pooling, as ``torch.nn.MaxPool2d`` (dilation 1, -inf padding).

        Input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = floor or ceil of
        (H + 2*padding[0] - kernel_size[0]) / stride[0], plus 1; with ceil_mode the last window
        must start inside the input or the left padding (PyTorch's rule). ``stride=None`` means
        ``kernel_size`` and is stored resolved. ``padding <= kernel_size // 2``. No weights.

        Adds one ``max_pool2d`` node (MaxPool2d) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def mul(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a * b with NumPy broadcasting, as ``torch.mul``.

        Adds one ``mul`` node (Mul) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def multi_head_attention(
        self,
        *tensors: Tensor,
        embed_dim: int,
        num_heads: int,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Multi-head scaled dot-product attention, as ``torch.nn.MultiheadAttention`` in eval
        mode called with ``need_weights=False`` and no masks.

        Inputs: ``query`` alone (self-attention: key = value = query) or ``query, key, value``.
        Each is (N, L, E) with ``batch_first``, else (L, N, E); key and value share their length S.
        Output: the attention output, shaped like ``query``.
        ``q, k, v = query @ Wq.T + bq, ...`` (W = ``in_proj_weight`` rows [0:E], [E:2E], [2E:3E]),
        split into ``num_heads`` heads of size E / num_heads, ``softmax(q k^T / sqrt(E/h)) v``,
        heads concatenated, then ``out_proj``. ``dropout`` is kept only so that models
        round-trip (it is inactive at inference).

        Weights (PyTorch's names): ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,),
        ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,); the biases only if ``bias``.

        Adds one ``multi_head_attention`` node (MultiheadAttention) and returns its output.
        Inputs are positional, attributes are keywords; ``name`` is the node name in the current
        scope (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def narrow(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        start: int,
        length: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Elements ``start .. start + length - 1`` of axis ``dim``, as ``torch.narrow``.

        Input (d0, ..., d[dim], ..., dn) -> (d0, ..., length, ..., dn). ``dim`` may be negative;
        ``start`` is >= 0 (torch's negative start is not accepted); ``length`` >= 1. The sliced
        axis must be static and ``start + length`` at most its size; other axes may be symbolic.
        Example: ShuffleNetV2's ``x1, x2 = x.chunk(2, dim=1)`` on (N, 116, 28, 28) is
        ``narrow(dim=1, start=0, length=58)`` and ``narrow(dim=1, start=58, length=58)``.
        No weights.

        Adds one ``narrow`` node (Narrow) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def ne(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a != b elementwise, as ``torch.ne``: bool.

        Adds one ``ne`` node (Ne) and returns its output. Inputs are positional, attributes are
        keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def nms(
        self,
        input: Tensor,
        other: Tensor,
        /,
        *,
        score_threshold: float = 0.25,
        iou_threshold: float = 0.7,
        max_det: int = 300,
        multi_label: bool = False,
        max_candidates: int = 3840,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Class-aware non-maximum suppression with a fixed-size output, as Ultralytics'
        ``non_max_suppression`` (torchvision's ``batched_nms`` per image).

        Inputs: boxes (N, A, 4) as (x1, y1, x2, y2) and scores (N, A, C), one float dtype. Per
        image, the candidates are the (box, class) pairs whose score exceeds ``score_threshold``:
        each box's best class only (the first on a tie), or every class with ``multi_label``. The
        ``max_candidates`` highest-scoring candidates (Ultralytics' ``max_nms``; TensorRT's NMS
        ``topk_box_limit``, at most 5000; default 3840, the most TensorRT-RTX's lowering keeps)
        go through ``batched_nms`` with ``iou_threshold``
        (a candidate is dropped when its IoU with a kept box of the same class exceeds it). The
        ``max_det`` best kept detections, by decreasing score, fill the output.

        Output (N, max_det, 6) in the input dtype, Ultralytics' end-to-end layout: rows
        (x1, y1, x2, y2, score, class), then padding rows (0, 0, 0, 0, 0, -1). The kept count of
        an image is the number of non-zero scores (``count_nonzero``: kept scores exceed the
        threshold, which is >= 0). Rows of equal score may come in any order. No weights.

        Adds one ``nms`` node (NMS) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def parameter(
        self,
        *,
        shape: tuple[int, ...],
        dtype: DType | str = DType.FLOAT32,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """A learned tensor of static ``shape``: the value of the checkpoint entry named like the
        node, as a module's ``nn.Parameter`` (ViT's ``class_token`` (1, 1, 768),
        ``encoder.pos_embedding`` (1, 197, 768)).

        No inputs; output ``dtype[shape]``. Weight: the node's own name (the empty role ``""``), of
        ``shape`` and ``dtype``.

        Adds one ``parameter`` node (Parameter) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def permute(
        self,
        input: Tensor,
        /,
        *,
        dims: tuple[int, ...],
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Reorder axes, as ``torch.permute``: output axis i is input axis ``dims[i]``.

        ``dims`` is a permutation of range(rank) (negative axes count from the end). No weights.

        Adds one ``permute`` node (Permute) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def quantize(
        self,
        input: Tensor,
        /,
        *,
        dtype: DType | str = DType.INT8,
        axis: int | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Symmetric quantization, as TensorRT's IQuantizeLayer: ``q = clamp(round(x / scale))``.

        Rounds half to even and clamps to [-128, 127] (``int8``) or [-448, 448] (``fp8``, then
        rounded to the E4M3 grid), as ``torch.fake_quantize_per_tensor_affine`` with zero point 0
        (without its dequantization) and ``torch.float8_e4m3fn`` casts do.

        Input: any float tensor. Output: the same shape, of ``dtype`` (fp8 values are float32
        numbers on the E4M3 grid in NumPy).

        Weights: ``scale``, () per tensor or (x.shape[axis],) per channel; strictly positive.

        Adds one ``quantize`` node (Quantize) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def quantized_conv2d(
        self,
        input: Tensor,
        /,
        *,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: DType | str = DType.INT8,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``conv2d`` whose weight is quantized per output channel: it computes with
        ``dequantize(quantize(weight, weight_scale, axis=0))``. The quantization pass makes these
        from ``conv2d`` nodes; TensorRT fuses them, with the dequantize before the input, into one
        INT8/FP8 convolution.

        Attributes: those of ``conv2d`` (PyTorch names), and ``dtype`` (``int8`` or ``fp8``) of
        the weight.

        Weights: ``weight`` (out_channels, C // groups, kh, kw) in float; ``bias`` (out_channels,)
        if bias; ``weight_scale`` (out_channels,), strictly positive.

        Adds one ``quantized_conv2d`` node (QuantizedConv2d) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def quantized_linear(
        self,
        input: Tensor,
        /,
        *,
        out_features: int,
        bias: bool = True,
        dtype: DType | str = DType.INT8,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``linear`` whose weight is quantized per output feature: it computes with
        ``dequantize(quantize(weight, weight_scale, axis=0))``.

        Attributes: ``out_features``, ``bias`` (as ``linear``) and ``dtype`` (``int8`` or ``fp8``)
        of the weight.

        Weights: ``weight`` (out_features, in_features) in float; ``bias`` (out_features,) if
        bias; ``weight_scale`` (out_features,), strictly positive.

        Adds one ``quantized_linear`` node (QuantizedLinear) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def relu(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """max(x, 0), as ``torch.nn.functional.relu``. Shape preserved.

        Adds one ``relu`` node (ReLU) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def relu6(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """min(max(x, 0), 6), as ``torch.nn.functional.relu6``. Shape preserved.

        Adds one ``relu6`` node (ReLU6) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def reshape(
        self,
        input: Tensor,
        /,
        *,
        shape: tuple[int | str, ...],
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """View the input with another shape of the same element count, as ``torch.reshape``.

        ``shape`` entries: an int >= 1; ``-1`` (at most once) for the size that keeps the element
        count; or the name of a symbolic dimension, which must be the input's dimension at the same
        position (it is copied, like TensorRT's and ONNX's ``0`` placeholder; where that dimension
        has been made static, e.g. by ``--shape``, its size is copied). ``-1`` may not absorb
        a symbolic dimension, and every symbolic input dimension must be kept that way.
        Example: (N, 512, 1, 1) with ``shape=["N", -1]`` -> (N, 512). No weights.

        Adds one ``reshape`` node (Reshape) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def select(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        index: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Element ``index`` of axis ``dim``, that axis removed, as ``torch.select(x, dim, index)``
        (``x[:, 0]`` is ``select(dim=1, index=0)``).

        A negative ``index`` counts from the end and needs a static axis; with ``index >= 0`` the
        axis may be symbolic (an index beyond its run-time size is an error of the reference, as
        TensorRT's gather does not check it); other axes may be symbolic. Examples: ViT's
        class-token output ``x[:, 0]`` on (N, 197, 768) -> (N, 768); BERT's pooler input
        ``hidden_states[:, 0]`` on (N, L, 768) with a dynamic L -> (N, 768). No weights.

        Adds one ``select`` node (Select) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def self_attention(
        self,
        *tensors: Tensor,
        embed_dim: int,
        num_heads: int,
        q_proj: str | None = None,
        k_proj: str | None = None,
        v_proj: str | None = None,
        qkv_proj: str | None = None,
        out_proj: str | None = None,
        weight_layout: str = "linear",
        bias: bool = True,
        causal: bool = False,
        scale: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Multi-head self-attention with the checkpoint's own projections, as Hugging Face's
        ``BertSelfAttention`` (``q_proj="query", k_proj="key", v_proj="value"``, no ``out_proj``)
        or ``GPT2Attention`` (``qkv_proj="c_attn", out_proj="c_proj", weight_layout="conv1d",
        causal=True``) at inference.

        Inputs: ``x`` (N, L, E) with E = ``embed_dim``, and optionally a ``mask``: bool (True:
        the key takes part, as ``scaled_dot_product_attention``'s ``attn_mask``) or float of x's
        dtype (added to the scaled scores, as BERT's extended attention mask), either (N, L) (a
        key padding mask: Hugging Face's ``attention_mask``) or 4-D broadcastable to
        (N, heads, L, L). Output (N, L, E): the heads' results concatenated, then ``out_proj``
        when given. q, k, v are projections of x split into ``num_heads`` heads of E / heads;
        ``softmax(q k^T * scale + mask) v`` with ``scale`` default 1 / sqrt(E / heads);
        ``causal``: query i attends to keys j <= i (with a mask too: both apply). A query whose
        keys are all masked gets zeros (as PyTorch 2.13).

        Weights, each projection under its name P: ``P.weight`` (E, E) and ``P.bias`` (E,) if
        ``bias``; separate ``q_proj``, ``k_proj``, ``v_proj``, or one ``qkv_proj`` of q, k, v
        stacked: weight (3E, E) (``linear`` layout, ``torch.nn.Linear``'s (out, in)) or (E, 3E)
        (``conv1d`` layout: GPT-2's ``Conv1D``, (in, out)); ``out_proj`` (E, E) optional.

        Adds one ``self_attention`` node (SelfAttention) and returns its output. Inputs are
        positional, attributes are keywords; ``name`` is the node name in the current scope
        (default: the op name, numbered), ``precision`` its compute dtype.
        """
        ...

    def sigmoid(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """1 / (1 + exp(-x)), as ``torch.sigmoid``. Shape preserved.

        Adds one ``sigmoid`` node (Sigmoid) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def silu(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """x * sigmoid(x) (swish), as ``torch.nn.functional.silu``. Shape preserved.

        Adds one ``silu`` node (SiLU) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def slice(
        self,
        input: Tensor,
        /,
        *,
        dim: int,
        start: int | None = None,
        end: int | None = None,
        step: int = 1,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Python slicing ``start:end:step`` along ``dim``, as ``x[..., start:end:step]``
        (``torch.Tensor.__getitem__`` with one slice).

        ``start`` and ``end`` may be negative (from the end) or null (the axis's ends) and are
        clamped to the axis as in Python; ``step`` >= 1. The sliced axis must be static; other axes
        may be symbolic. The result may not be empty. No weights.

        Adds one ``slice`` node (Slice) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def softmax(
        self,
        input: Tensor,
        /,
        *,
        dim: int = -1,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """exp(x) / sum(exp(x)) along ``dim``, as ``torch.softmax``. Shape preserved, no weights.

        The reduced axis may be symbolic (its size is only needed at run time).

        Adds one ``softmax`` node (Softmax) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def sub(
        self,
        *tensors: Tensor,
        other: float | None = None,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """a - b with NumPy broadcasting, as ``torch.sub``.

        Adds one ``sub`` node (Sub) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def tanh(
        self,
        input: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """tanh(x), as ``torch.tanh``. Shape preserved.

        Adds one ``tanh`` node (Tanh) and returns its output. Inputs are positional, attributes
        are keywords; ``name`` is the node name in the current scope (default: the op name,
        numbered), ``precision`` its compute dtype.
        """
        ...

    def transpose(
        self,
        input: Tensor,
        /,
        *,
        dim0: int,
        dim1: int,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """Swap two axes, as ``torch.transpose(x, dim0, dim1)`` (negative axes count from the end).

        Example: (N, 768, 196) with ``dim0=1, dim1=2`` -> (N, 196, 768). No weights.

        Adds one ``transpose`` node (Transpose) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...

    def where(
        self,
        input0: Tensor,
        input1: Tensor,
        input2: Tensor,
        /,
        *,
        name: str | None = None,
        precision: DType | str | None = None,
    ) -> Tensor:
        """``input`` where ``condition`` is true, else ``other``, as
        ``torch.where(condition, input, other)``.

        Inputs: ``condition`` bool, ``input`` and ``other`` of one dtype; the three shapes
        broadcast together (NumPy rules) to the output's, of that dtype. Example: masking scores
        (N, h, L, L) with a bool (1, 1, L, L) and a (1,) fill. No weights.

        Adds one ``where`` node (Where) and returns its output. Inputs are positional,
        attributes are keywords; ``name`` is the node name in the current scope (default: the op
        name, numbered), ``precision`` its compute dtype.
        """
        ...
