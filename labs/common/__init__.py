"""Helpers shared by the labs: image/sample readers, plots and step printing."""
