"""The model file: its card (settings, data, training, attribute lines and intervals; :mod:`.card`), weights and
card in one safetensors file (:mod:`.bundle`), where the model comes from (:mod:`.provenance`) and the
calibration of its intervals and decoded measures (:mod:`.calibration`). Imports :mod:`..data`, :mod:`..method`
and the base modules."""
