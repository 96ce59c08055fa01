"""Debugging a backend against the reference: layerwise comparison and bisection."""

from trtdsl.debug.compare import LayerwiseReport as LayerwiseReport
from trtdsl.debug.compare import ValueComparison as ValueComparison
from trtdsl.debug.compare import compare_arrays as compare_arrays
from trtdsl.debug.compare import compare_layerwise as compare_layerwise
from trtdsl.debug.compare import format_report as format_report
from trtdsl.debug.compare import perturb_weights as perturb_weights
