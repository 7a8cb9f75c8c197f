//! Vendor faces (one folder per vendor) are added here by the face issues.
