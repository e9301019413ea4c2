from podaudit.cli import main

main()
