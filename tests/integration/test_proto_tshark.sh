echo "not yet"; exit 77
