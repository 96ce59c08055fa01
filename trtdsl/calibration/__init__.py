"""Post-training calibration for INT8/FP8: data, streaming histograms, amax methods and the
scales file that ``prepare_graph(..., calibration=...)`` reads."""

from trtdsl.calibration.calibrate import Calibration as Calibration
from trtdsl.calibration.calibrate import calibrate as calibrate
from trtdsl.calibration.calibrate import graph_digest as graph_digest
from trtdsl.calibration.calibrate import weights_digest as weights_digest
from trtdsl.calibration.data import CalibrationData as CalibrationData
from trtdsl.calibration.data import Preprocess as Preprocess
from trtdsl.calibration.data import read_model_preprocess as read_model_preprocess
from trtdsl.calibration.histogram import METHODS as METHODS
from trtdsl.calibration.histogram import Method as Method
from trtdsl.calibration.histogram import TensorHistogram as TensorHistogram
