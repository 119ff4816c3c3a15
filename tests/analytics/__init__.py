"""Tests of auditkit.analytics: detectors, evidence, insights and charts."""
