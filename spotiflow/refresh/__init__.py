"""The scheduled refresh (`spotiflow refresh`): its job and the drop folder it lands."""
