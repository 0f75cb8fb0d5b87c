// Placeholder: the wrap-mode bind() interposer is being written (issue 5).
