"""service/interceptors"""
