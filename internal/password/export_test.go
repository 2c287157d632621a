package password

// CommonPasswordList exposes the embedded list's entries to the tests.
func CommonPasswordList() []string { return CommonPasswords().words }
