"""Post-training calibration for INT8/FP8: data, executors, streaming histograms, amax
methods and the scales file that ``prepare_graph(..., calibration=...)`` reads."""

from trtdsl.calibration.calibrate import Calibration as Calibration
from trtdsl.calibration.calibrate import calibrate as calibrate
from trtdsl.calibration.calibrate import graph_digest as graph_digest
from trtdsl.calibration.calibrate import weights_digest as weights_digest
from trtdsl.calibration.data import CalibrationData as CalibrationData
from trtdsl.calibration.data import Preprocess as Preprocess
from trtdsl.calibration.data import read_model_preprocess as read_model_preprocess
from trtdsl.calibration.executors import EXECUTORS as EXECUTORS
from trtdsl.calibration.histogram import SAMPLE_VALUES as SAMPLE_VALUES
from trtdsl.calibration.histogram import TensorHistogram as TensorHistogram
from trtdsl.calibration.methods import METHODS as METHODS
from trtdsl.calibration.methods import Method as Method
from trtdsl.calibration.methods import MethodRule as MethodRule
