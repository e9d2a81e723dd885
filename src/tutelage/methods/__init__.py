"""tutelage.methods"""
