"""Filter stage: exact and near-duplicate removal, decontamination, diversity."""
