"""Image input and output for detectors: Ultralytics-style letterboxing, box rescaling and
drawing detections with class names (Pillow; no OpenCV)."""

from trtdsl.vision.coco import COCO_NAMES as COCO_NAMES
from trtdsl.vision.detect import Letterbox as Letterbox
from trtdsl.vision.detect import draw_detections as draw_detections
from trtdsl.vision.detect import letterbox as letterbox
from trtdsl.vision.detect import load_image as load_image
from trtdsl.vision.detect import prepare_image as prepare_image
from trtdsl.vision.detect import scale_boxes as scale_boxes
from trtdsl.vision.detect import write_boxes_png as write_boxes_png
