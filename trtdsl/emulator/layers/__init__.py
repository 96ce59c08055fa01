"""Emulated layer classes, one module per family."""

from trtdsl.emulator.layers.base import ILayer as ILayer
from trtdsl.emulator.layers.conv import IConvolutionLayer as IConvolutionLayer
from trtdsl.emulator.layers.conv import IPoolingLayer as IPoolingLayer
from trtdsl.emulator.layers.deconv import IDeconvolutionLayer as IDeconvolutionLayer
from trtdsl.emulator.layers.nms import INMSLayer as INMSLayer
from trtdsl.emulator.layers.nms import IScatterLayer as IScatterLayer
from trtdsl.emulator.layers.pointwise import IActivationLayer as IActivationLayer
from trtdsl.emulator.layers.pointwise import ICastLayer as ICastLayer
from trtdsl.emulator.layers.pointwise import IElementWiseLayer as IElementWiseLayer
from trtdsl.emulator.layers.pointwise import IIdentityLayer as IIdentityLayer
from trtdsl.emulator.layers.pointwise import IScaleLayer as IScaleLayer
from trtdsl.emulator.layers.pointwise import IUnaryLayer as IUnaryLayer
from trtdsl.emulator.layers.quantize import IDequantizeLayer as IDequantizeLayer
from trtdsl.emulator.layers.quantize import IQuantizeLayer as IQuantizeLayer
from trtdsl.emulator.layers.reduce import IMatrixMultiplyLayer as IMatrixMultiplyLayer
from trtdsl.emulator.layers.reduce import IReduceLayer as IReduceLayer
from trtdsl.emulator.layers.reduce import ISoftMaxLayer as ISoftMaxLayer
from trtdsl.emulator.layers.resize import IResizeLayer as IResizeLayer
from trtdsl.emulator.layers.shape_ops import IConcatenationLayer as IConcatenationLayer
from trtdsl.emulator.layers.shape_ops import IConstantLayer as IConstantLayer
from trtdsl.emulator.layers.shape_ops import IPaddingLayer as IPaddingLayer
from trtdsl.emulator.layers.shape_ops import IShuffleLayer as IShuffleLayer
from trtdsl.emulator.layers.shape_ops import ISliceLayer as ISliceLayer
