"""Generation methods (rewrite, distill, selfgen, translate); `factory.kinds` wires them to kinds."""
