"""Where bytes enter and leave trtdsl: every user file is read and written through here.

- ``reading``: regular files only, never blocking on a FIFO, bounded in size, recorded as
  inputs of the current command; strict JSON.
- ``paths``: outputs checked before any work (directory, writability, not an input).
- ``writing``: atomic files, groups of files all or nothing, new directories in one rename.
- ``arrays``: ``.npy``/``.npz`` read header first, ``.npz`` members lazily.
- ``memory``: the memory budget every size taken from input is checked against.
- ``schema``: JSON parsed once into typed frozen records, every field checked.
- ``scope``: the files one command read, so that none of them is overwritten.
- ``locking``: lock files (regular files only, never followed, never written).

This package sits at the bottom of the layering: it imports only ``trtdsl.errors``.
"""

from trtdsl.files.arrays import ArrayHeader as ArrayHeader
from trtdsl.files.arrays import NpzArchive as NpzArchive
from trtdsl.files.arrays import RowReader as RowReader
from trtdsl.files.arrays import load_npy as load_npy
from trtdsl.files.arrays import read_npy_header as read_npy_header
from trtdsl.files.locking import hold_lock as hold_lock
from trtdsl.files.memory import available_memory as available_memory
from trtdsl.files.memory import format_bytes as format_bytes
from trtdsl.files.memory import require_memory as require_memory
from trtdsl.files.paths import check_output as check_output
from trtdsl.files.paths import check_output_directory as check_output_directory
from trtdsl.files.paths import check_outputs as check_outputs
from trtdsl.files.paths import same_file as same_file
from trtdsl.files.reading import JSON_LIMIT as JSON_LIMIT
from trtdsl.files.reading import TEXT_LIMIT as TEXT_LIMIT
from trtdsl.files.reading import input_size as input_size
from trtdsl.files.reading import open_input as open_input
from trtdsl.files.reading import parse_json as parse_json
from trtdsl.files.reading import read_bytes as read_bytes
from trtdsl.files.reading import read_json as read_json
from trtdsl.files.reading import read_text as read_text
from trtdsl.files.reading import sha256_file as sha256_file
from trtdsl.files.schema import Bounds as Bounds
from trtdsl.files.schema import describe_json as describe_json
from trtdsl.files.schema import parse_record as parse_record
from trtdsl.files.schema import record_to_json as record_to_json
from trtdsl.files.scope import command_scope as command_scope
from trtdsl.files.writing import Content as Content
from trtdsl.files.writing import remove_file as remove_file
from trtdsl.files.writing import write_directory as write_directory
from trtdsl.files.writing import write_file as write_file
from trtdsl.files.writing import write_files as write_files
