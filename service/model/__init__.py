"""service/model"""
