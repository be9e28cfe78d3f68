"""Saved reference fits of snrstat's bundled data sets, installed as ``snrstat.reference_models``.

Data files only (one NetCDF file per fit); see :mod:`snrstat.reference`.
"""
