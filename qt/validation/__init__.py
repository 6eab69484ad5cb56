"""Walk-forward validation: calendar windows, the stitched out-of-sample book, and selection-bias statistics."""
