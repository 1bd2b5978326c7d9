"""service/api"""
