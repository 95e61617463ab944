"""Pick slips: one layout rendered to ESC/POS bytes and to a preview image; printer backends (see issue #8)."""
