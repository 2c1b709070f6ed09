//! Plans for people: Terraform-like blocks, a drift section, a summary line.
