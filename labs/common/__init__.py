"""Helpers shared by the labs: data files, image/sample readers, plots and step printing."""
