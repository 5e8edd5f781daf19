"""Training: the reference detoxifier of pair kinds (`pairs`, `seq2seq`), target LMs (`causal`), the grid."""
