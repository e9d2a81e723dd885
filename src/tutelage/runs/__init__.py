"""tutelage.runs"""
