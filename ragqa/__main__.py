from ragqa.quick import main

main()
