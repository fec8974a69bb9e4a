# placeholder, owned by its directory's author
