"""tutelage.data"""
