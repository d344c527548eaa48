from colorize import bracket

print(bracket("built by ONBUILD triggers"))
