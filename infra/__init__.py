"""Deployment: IAM policies and, later, templates, generated from the stage settings."""
