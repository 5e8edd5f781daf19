"""Evaluation: pair kinds (`pairs`, `paradetox`, `corpus`), LM kinds (`lm`), the cross-lingual grid."""
