"""Images in and out (Pillow; no OpenCV): Ultralytics-style letterboxing, box rescaling and
drawn detections for detectors; colour masks with a legend for segmenters; bundled class
names (ImageNet, VOC, COCO)."""

from trtdsl.vision.classes import class_names as class_names
from trtdsl.vision.classes import imagenet_classes as imagenet_classes
from trtdsl.vision.classes import voc_classes as voc_classes
from trtdsl.vision.coco import COCO_NAMES as COCO_NAMES
from trtdsl.vision.detect import Letterbox as Letterbox
from trtdsl.vision.detect import draw_detections as draw_detections
from trtdsl.vision.detect import letterbox as letterbox
from trtdsl.vision.detect import load_image as load_image
from trtdsl.vision.detect import prepare_image as prepare_image
from trtdsl.vision.detect import scale_boxes as scale_boxes
from trtdsl.vision.detect import write_boxes_png as write_boxes_png
from trtdsl.vision.segment import mask_labels as mask_labels
from trtdsl.vision.segment import voc_palette as voc_palette
from trtdsl.vision.segment import write_mask_png as write_mask_png
