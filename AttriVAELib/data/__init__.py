"""Cohorts and what is measured on them: label schemes (:mod:`.labels`), reading and checking volumes
(:mod:`.volumes`), the network cube and back (:mod:`.preprocessing`), the attribute registry and shape measures
(:mod:`.attributes`), the anatomy of a decoded cube (:mod:`.decoded`), the synthetic LV cohort with ground truth
(:mod:`.synthetic`), dataset loaders (:mod:`.datasets`), stratified splits (:mod:`.splits`) and a cohort prepared
as tensors (:mod:`.prepared`). Imports only the package's base modules (errors, progress, files, choices,
config, metrics)."""
