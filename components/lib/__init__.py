"""The credit-risk example's logic as plain Python, importable without KFP.

Stays free of imports on purpose: the saved model ships this package as its code
(MLflow ``code_paths``) and serving processes import it to unpickle the pipeline.
"""
