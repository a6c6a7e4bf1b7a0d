from onepipe.cli.main import entry

entry()
